import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link waitFor}: how long to poll, how often, and what to say on timeout. */
export interface WaitForOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Describes what was awaited; it leads the timeout error so a failing test says what never happened. */
  readonly message?: string;
  /** Stops polling early; waitFor then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Rejected by {@link waitFor} when the condition never became truthy in time. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/** `T` without its falsy members: what waitFor can resolve with. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return sleep(ms);
}

/**
 * Polls `fn` until it returns (or resolves to) a truthy value and returns that value.
 * A throw/rejection counts as "not yet" (servers refuse connections while starting);
 * the last one is quoted in the timeout error because it usually says why.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, options: WaitForOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 25;
  const message = options.message ?? 'condition';
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await fn();
      if (value) return value as Truthy<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const detail =
        lastError === undefined ? `last value: ${String(lastValue)}` : `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${message} (${detail})`, {
        cause: lastError,
      });
    }
    try {
      await sleep(Math.min(intervalMs, Math.max(0, deadline - performance.now())), undefined, {
        signal: options.signal,
      });
    } catch {
      options.signal?.throwIfAborted();
    }
  }
}
