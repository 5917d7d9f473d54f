import type { CycleResult } from './probe-result.ts';

/** Each target's last result and its up/down state, for the status page and state-change logs. */
export interface TargetStatus {
  readonly target: string;
  readonly state: 'unknown' | 'up' | 'down';
  readonly lastResult?: CycleResult;
  readonly lastSuccessAtMs?: number;
  readonly since?: number;
}

export interface StatusBoard {
  /** Stores the result; returns the new state when it changed from a known different state. */
  record(result: CycleResult): { changedFrom?: 'up' | 'down' | 'unknown'; state: 'up' | 'down' };
  remove(target: string): void;
  snapshot(): TargetStatus[];
}

export function createStatusBoard(): StatusBoard {
  const statuses = new Map<string, TargetStatus>();
  return {
    record(result) {
      const previous = statuses.get(result.target);
      const state = result.success ? 'up' : 'down';
      const changed = previous?.state !== state;
      statuses.set(result.target, {
        target: result.target,
        state,
        lastResult: result,
        since: changed ? result.startedAtMs : previous?.since ?? result.startedAtMs,
        ...(result.success
          ? { lastSuccessAtMs: result.startedAtMs + result.durationMs }
          : previous?.lastSuccessAtMs !== undefined
            ? { lastSuccessAtMs: previous.lastSuccessAtMs }
            : {}),
      });
      return changed ? { changedFrom: previous?.state ?? 'unknown', state } : { state };
    },
    remove(target) {
      statuses.delete(target);
    },
    snapshot: () => [...statuses.values()],
  };
}
