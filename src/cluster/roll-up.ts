import type { CommandStep, CycleResult, Observations, StepTiming } from '../shared/probe-result.ts';
import { STEPS } from '../shared/probe-result.ts';

/** A cluster cycle seen as one target-level outcome, and the node result that speaks for it in logs. */
export interface ClusterCycleSummary {
  /** No `node`; succeeds only if every node did; fails with the first failing node's step and reason. */
  readonly summary: CycleResult;
  /** The first failing node's result, else the first result: it carries the target's state-change log line. */
  readonly representative: CycleResult;
}

/**
 * Rolls one cycle's node results into a single target result (pure). Timing is wall clock from the first
 * node's start to the last node's end; step latencies are the slowest node's; client counts add up; the
 * certificate expiry is the earliest. A lone result without `node` (discovery failed) is its own summary.
 */
export function summarizeClusterCycle(results: readonly CycleResult[]): ClusterCycleSummary {
  const first = results[0];
  if (first === undefined) throw new RangeError('a cluster cycle has at least one result');
  const failing = results.find((result) => !result.success);
  const representative = failing ?? first;
  if (results.length === 1 && first.node === undefined) return { summary: first, representative };

  const startedAtMs = Math.min(...results.map((result) => result.startedAtMs));
  const endedAtMs = Math.max(...results.map((result) => result.startedAtMs + result.durationMs));
  const slowest = new Map<StepTiming['step'], number>();
  for (const timing of results.flatMap((result) => result.steps)) {
    slowest.set(timing.step, Math.max(slowest.get(timing.step) ?? 0, timing.durationMs));
  }
  const unsupported = new Set<CommandStep>(results.flatMap((result) => result.unsupportedSteps));
  const observations: Observations = {};
  const counts = results.flatMap((result) => result.observations.clientCount ?? []);
  if (counts.length > 0) observations.clientCount = counts.reduce((sum, count) => sum + count, 0);
  const expiries = results.flatMap((result) => result.observations.serverCertNotAfterMs ?? []);
  if (expiries.length > 0) observations.serverCertNotAfterMs = Math.min(...expiries);

  const summary: CycleResult = {
    target: first.target,
    trigger: first.trigger,
    startedAtMs,
    durationMs: endedAtMs - startedAtMs,
    success: failing === undefined,
    steps: STEPS.flatMap((step) => {
      const durationMs = slowest.get(step);
      return durationMs === undefined ? [] : [{ step, durationMs }];
    }),
    ...(failing?.failure ? { failure: { ...failing.failure, message: `${failing.node ?? 'cluster'}: ${failing.failure.message}` } } : {}),
    unsupportedSteps: [...unsupported],
    observations,
  };
  return { summary, representative };
}
