import type { Clock, TimerHandle } from '../../src/shared/clock.ts';

/** A timer waiting in a FakeClock. */
export interface PendingTimer {
  readonly id: number;
  /** now() value at which it fires (given no further wall-clock jumps). */
  readonly dueAtMs: number;
  readonly dueInMs: number;
}

interface Timer {
  readonly id: number;
  /** Timers run on monotonic time, like Node's. */
  readonly dueAtMonoMs: number;
  readonly callback: () => void;
}

/** Lets queued promise callbacks run: one macrotask turn drains every microtask queued before it. */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A Clock whose time moves only when a test says so. Timers fire in due order (ties in
 * scheduling order), with the clock set to their due time, including timers scheduled by
 * callbacks while advancing.
 */
export class FakeClock implements Clock {
  #monoMs = 0;
  #wallOffsetMs: number;
  #nextId = 1;
  #timers = new Map<number, Timer>();

  /** Starts at `startMs` (default 2025-01-01T00:00:00Z); monotonicMs() starts at 0. */
  constructor(startMs: number = Date.UTC(2025, 0, 1)) {
    this.#wallOffsetMs = startMs;
  }

  now(): number {
    return this.#monoMs + this.#wallOffsetMs;
  }

  monotonicMs(): number {
    return this.#monoMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    this.#timers.set(id, { id, dueAtMonoMs: this.#monoMs + delay, callback });
    const handle: TimerHandle & { readonly id: number } = { id, unref: () => undefined };
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: unknown }).id;
    if (typeof id === 'number') this.#timers.delete(id);
  }

  /** Timers not yet fired or cleared, soonest first. */
  pendingTimers(): PendingTimer[] {
    return this.#sorted().map(({ id, dueAtMonoMs }) => ({
      id,
      dueAtMs: dueAtMonoMs + this.#wallOffsetMs,
      dueInMs: dueAtMonoMs - this.#monoMs,
    }));
  }

  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextTimerInMs(): number | undefined {
    const next = this.#sorted()[0];
    return next === undefined ? undefined : next.dueAtMonoMs - this.#monoMs;
  }

  /** Moves time forward by `ms`, synchronously running every timer that comes due. */
  advance(ms: number): void {
    const target = this.#target(ms);
    for (let timer = this.#due(target); timer !== undefined; timer = this.#due(target)) {
      this.#fire(timer);
    }
    this.#monoMs = target;
  }

  /**
   * Like advance(), but lets promises settle before each timer and at the end, so async
   * work started by one timer can schedule the next before time moves on.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#target(ms);
    await flushPromises();
    for (let timer = this.#due(target); timer !== undefined; timer = this.#due(target)) {
      this.#fire(timer);
      await flushPromises();
    }
    this.#monoMs = target;
    await flushPromises();
  }

  /** Advances to the next pending timer and runs it (and anything due with it); returns false if none. */
  async runNextAsync(): Promise<boolean> {
    await flushPromises();
    const next = this.nextTimerInMs();
    if (next === undefined) return false;
    await this.advanceAsync(next);
    return true;
  }

  /** Steps wall-clock time (e.g. NTP) without running timers; monotonicMs() and timers are unaffected. */
  setWallClock(nowMs: number): void {
    this.#wallOffsetMs = nowMs - this.#monoMs;
  }

  #target(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`FakeClock cannot move backwards or by NaN (got ${ms})`);
    return this.#monoMs + ms;
  }

  #sorted(): Timer[] {
    return [...this.#timers.values()].sort((a, b) => a.dueAtMonoMs - b.dueAtMonoMs || a.id - b.id);
  }

  #due(target: number): Timer | undefined {
    const next = this.#sorted()[0];
    return next !== undefined && next.dueAtMonoMs <= target ? next : undefined;
  }

  #fire(timer: Timer): void {
    this.#timers.delete(timer.id);
    this.#monoMs = Math.max(this.#monoMs, timer.dueAtMonoMs);
    timer.callback();
  }
}
