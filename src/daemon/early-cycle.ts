import type { Clock, TimerHandle } from '../shared/clock.ts';

/** Runs an extra cycle when a target's connection is lost, without letting a flapping server drive a loop. */
export interface EarlyCycleLimiter {
  /** The target's connection closed unexpectedly: run one extra cycle now or as soon as allowed. */
  request(name: string): void;
  /** The target left: drop its state and any extra cycle still waiting. */
  forget(name: string): void;
  close(): void;
}

interface TargetState {
  /** Monotonic start of the last extra cycle. */
  lastStartMs?: number;
  timer?: TimerHandle | undefined;
  running: boolean;
}

/** One extra cycle per second at most, per target: fast enough to notice an outage at once. */
export const DEFAULT_EARLY_CYCLE_MIN_INTERVAL_MS = 1_000;

/**
 * At most one extra cycle in flight per target and at most one started per `minIntervalMs`; requests
 * in between collapse into a single delayed one, so the loss is still acted on, just not in a loop.
 */
export function createEarlyCycleLimiter(options: {
  clock: Clock;
  minIntervalMs?: number;
  /** Runs the extra cycle (the scheduler's trigger, which never overlaps a running cycle). */
  run: (name: string) => Promise<void>;
}): EarlyCycleLimiter {
  const { clock } = options;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_EARLY_CYCLE_MIN_INTERVAL_MS;
  const states = new Map<string, TargetState>();
  let closed = false;

  const start = (name: string, state: TargetState): void => {
    state.timer = undefined;
    if (closed || states.get(name) !== state) return;
    state.running = true;
    state.lastStartMs = clock.monotonicMs();
    void options
      .run(name)
      .catch(() => undefined)
      .finally(() => {
        state.running = false;
      });
  };

  return {
    request(name) {
      if (closed) return;
      let state = states.get(name);
      if (!state) {
        state = { running: false };
        states.set(name, state);
      }
      if (state.running || state.timer) return;
      const waitMs = state.lastStartMs === undefined ? 0 : state.lastStartMs + minIntervalMs - clock.monotonicMs();
      if (waitMs <= 0) {
        start(name, state);
        return;
      }
      const pending = state;
      pending.timer = clock.setTimeout(() => start(name, pending), waitMs);
      pending.timer.unref?.();
    },
    forget(name) {
      const state = states.get(name);
      if (state?.timer) clock.clearTimeout(state.timer);
      states.delete(name);
    },
    close() {
      closed = true;
      for (const state of states.values()) if (state.timer) clock.clearTimeout(state.timer);
      states.clear();
    },
  };
}
