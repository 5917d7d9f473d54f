import type { Clock } from '../shared/clock.ts';
import type { Step, StepTiming } from '../shared/probe-result.ts';
import { withTimeout } from '../shared/timeout.ts';

/** A step failed: which one, and the cause, which classifyError turns into the reason. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  readonly step: Step;
  readonly error: unknown;
  constructor(step: Step, error: unknown) {
    super(`${step} failed`);
    this.step = step;
    this.error = error;
  }
}

/** What bounds a step: the clock that times it and the target's timeout. */
export interface StepLimits {
  readonly clock: Clock;
  readonly timeoutMs: number;
}

/**
 * Runs one step of a probe cycle or a topology read under the timeout: appends its duration to `timings`,
 * or rejects with a StepFailedError naming it (a synchronous throw of `work` included).
 */
export function timedStep<T>(name: Step, timings: StepTiming[], limits: StepLimits, work: () => Promise<T>): Promise<T> {
  const { clock } = limits;
  const started = clock.monotonicMs();
  let pending: Promise<T>;
  try {
    pending = work();
  } catch (error) {
    pending = Promise.reject(error);
  }
  // Plain reactions rather than an async wrapper: every cycle runs this for each step, 100 cycles a second at scale.
  return withTimeout(pending, limits.timeoutMs, clock, name).then(
    (value) => {
      timings.push({ step: name, durationMs: clock.monotonicMs() - started });
      return value;
    },
    (error: unknown) => {
      throw new StepFailedError(name, error);
    },
  );
}
