/** Time as the rest of the code sees it: injectable so tests drive timers without sleeping. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (for timestamps). */
  now(): number;
  /** Monotonic milliseconds with sub-millisecond resolution (for durations). */
  monotonicMs(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay a Node timer honours (2^31 - 1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Opaque timer handle; `unref` lets the process exit while only our timers remain. */
export interface TimerHandle {
  unref?(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
