import type { Clock } from './clock.ts';

/** How a race against the clock ends when the timer wins, and what else may end it. */
export interface RaceOptions<T> {
  /** Called when the timer fires first: its value settles the race, or what it throws rejects it. */
  readonly onTimeout: () => T;
  /** An outer abort ends the race at once with `onAbort()`'s error (already aborted: before it starts). */
  readonly signal?: AbortSignal;
  readonly onAbort?: () => Error;
  /** Let the process exit while only this timer remains (background work such as token requests). */
  readonly unref?: boolean;
}

/**
 * The one race of work against a timer from `clock`: settles with whichever ends first. The timer is
 * always cleared, and once the race is over a late settlement of `work` is swallowed, not left unhandled.
 */
export function raceTimeout<T>(work: Promise<T>, timeoutMs: number, clock: Clock, options: RaceOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { signal } = options;
    const abortError = (): Error => options.onAbort?.() ?? new Error('aborted');
    if (signal?.aborted) {
      work.catch(() => undefined);
      reject(abortError());
      return;
    }
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (finish()) reject(abortError());
    };
    const timer = clock.setTimeout(() => {
      if (!finish()) return;
      try {
        resolve(options.onTimeout());
      } catch (error) {
        reject(error);
      }
    }, timeoutMs);
    if (options.unref) timer.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => {
        if (finish()) reject(error);
      },
    );
  });
}

/** Races `work` against a timer from `clock`; rejects with a StepTimeoutError naming `what` when it runs out. */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number, clock: Clock, what: string): Promise<T> {
  return raceTimeout(work, timeoutMs, clock, {
    onTimeout: () => {
      throw new StepTimeoutError(`${what} timed out after ${timeoutMs}ms`);
    },
  });
}

/** Resolves true once `work` settles (fulfilled or rejected), or false after `timeoutMs`, whichever comes first. */
export function settlesWithin(work: Promise<unknown>, timeoutMs: number, clock: Clock): Promise<boolean> {
  return raceTimeout(
    work.then(
      () => true,
      () => true,
    ),
    timeoutMs,
    clock,
    { onTimeout: () => false },
  );
}

/** A step took longer than its timeout. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}
