import type { CommandStep, CycleResult, FailureReason } from '../shared/probe-result.ts';
import { roundMs, stepMillis } from '../shared/probe-result.ts';
import type { TargetStatusView } from '../http/status-page.ts';

/** Each target's last result and its up/down state, for the status page and state-change logs. */
export interface TargetStatus {
  readonly target: string;
  readonly state: 'unknown' | 'up' | 'down';
  readonly lastResult?: CycleResult;
  readonly lastSuccessAtMs?: number;
  /** The most recent failure, kept after the target recovers (the status page shows it). */
  readonly lastFailure?: { readonly atMs: number; readonly step: string; readonly reason: string };
  readonly since?: number;
}

export interface StatusBoard {
  /** Stores the result; says whether the state or a down target's reason changed, and which steps the server newly refused. */
  record(result: CycleResult): StatusChange;
  remove(target: string): void;
  snapshot(): TargetStatus[];
}

/** What changed with a result, for the one-off log lines. */
export interface StatusChange {
  readonly state: 'up' | 'down';
  /** Set only when the state changed. */
  readonly changedFrom?: 'up' | 'down' | 'unknown';
  /** Set only when the target stays down for another reason: the previous one. */
  readonly reasonChangedFrom?: FailureReason;
  /** Steps refused now that were not refused in the previous result. */
  readonly newlyUnsupported: readonly CommandStep[];
}

const NO_STEPS: readonly CommandStep[] = [];
/** The answer for nearly every cycle, shared rather than allocated each time. */
const UNCHANGED: Readonly<Record<'up' | 'down', StatusChange>> = {
  up: { state: 'up', newlyUnsupported: NO_STEPS },
  down: { state: 'down', newlyUnsupported: NO_STEPS },
};

export function createStatusBoard(): StatusBoard {
  const statuses = new Map<string, TargetStatus>();
  return {
    record(result) {
      const previous = statuses.get(result.target);
      const state = result.success ? 'up' : 'down';
      const changed = previous?.state !== state;
      const lastSuccessAtMs = result.success ? result.startedAtMs + result.durationMs : previous?.lastSuccessAtMs;
      const lastFailure = result.failure ? { atMs: result.startedAtMs, step: result.failure.step, reason: result.failure.reason } : previous?.lastFailure;
      statuses.set(result.target, {
        target: result.target,
        state,
        lastResult: result,
        since: changed ? result.startedAtMs : (previous.since ?? result.startedAtMs),
        ...(lastSuccessAtMs !== undefined ? { lastSuccessAtMs } : {}),
        ...(lastFailure !== undefined ? { lastFailure } : {}),
      });
      const previouslyUnsupported = previous?.lastResult?.unsupportedSteps ?? NO_STEPS;
      const newlyUnsupported =
        result.unsupportedSteps.length === 0 ? NO_STEPS : result.unsupportedSteps.filter((step) => !previouslyUnsupported.includes(step));
      if (changed) return { changedFrom: previous?.state ?? 'unknown', state, newlyUnsupported };
      const previousReason = previous.lastResult?.failure?.reason;
      if (result.failure && previousReason !== undefined && previousReason !== result.failure.reason) {
        return { state, newlyUnsupported, reasonChangedFrom: previousReason };
      }
      return newlyUnsupported.length === 0 ? UNCHANGED[state] : { state, newlyUnsupported };
    },
    remove(target) {
      statuses.delete(target);
    },
    snapshot: () => [...statuses.values()],
  };
}

/** One target's entry on the status page (`/`), from its board status. */
export function statusView(status: TargetStatus): TargetStatusView {
  const result = status.lastResult;
  const lastFailure = status.lastFailure;
  return {
    target: status.target,
    state: status.state,
    since: status.since !== undefined ? new Date(status.since).toISOString() : undefined,
    lastSuccess: status.lastSuccessAtMs !== undefined ? new Date(status.lastSuccessAtMs).toISOString() : null,
    lastFailure: lastFailure ? { at: new Date(lastFailure.atMs).toISOString(), step: lastFailure.step, reason: lastFailure.reason } : null,
    lastCycle: result && {
      at: new Date(result.startedAtMs).toISOString(),
      trigger: result.trigger,
      durationMs: roundMs(result.durationMs),
      steps: stepMillis(result),
      failure: result.failure,
      unsupportedSteps: result.unsupportedSteps,
      clients: result.observations.clientCount,
    },
  };
}
