import type { Clock } from './clock.ts';

/** Races `work` against a timer from `clock`; the timer is always cleared. */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number, clock: Clock, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new StepTimeoutError(`${what} timed out after ${timeoutMs}ms`)), timeoutMs);
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A step took longer than its timeout. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}
