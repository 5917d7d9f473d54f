import type { TickHandle, TickSource } from '../../src/daemon/scheduler.ts';

/** A TickSource the test fires by hand, standing in for node-cron. */
export class ManualTickSource implements TickSource {
  readonly #listeners = new Map<string, (plannedAtMs: number, intervalMs: number) => void>();
  nextRunAtMs: number | undefined;

  every(expression: string, onTick: (plannedAtMs: number, intervalMs: number) => void): TickHandle {
    this.#listeners.set(expression, onTick);
    return {
      stop: () => this.#listeners.delete(expression),
      nextRunAtMs: () => this.nextRunAtMs,
    };
  }

  /** Fires the schedule `expression` as planned at `plannedAtMs`. */
  tick(expression: string, plannedAtMs: number, intervalMs: number): void {
    const listener = this.#listeners.get(expression);
    if (!listener) throw new Error(`schedule ${expression} is not running`);
    listener(plannedAtMs, intervalMs);
  }

  active(): string[] {
    return [...this.#listeners.keys()];
  }
}
