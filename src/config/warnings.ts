import { createTask } from 'node-cron';
import { ownedTargets } from './shard.ts';
import { formatDurationMs } from './duration.ts';
import type { DaemonConfig } from './types.ts';
import { labelLimitWarnings } from './label-limits.ts';

/** Below this a step rarely completes over a network, and a timer on a busy event loop fires later than this. */
const MIN_SENSIBLE_TIMEOUT_MS = 10;
/** One process's worth of cycles: beyond it, cycles start late or are skipped (README, Performance and sizing). */
const MAX_CYCLES_PER_SECOND = 1_000;
/** Databases a Redis or Azure Cache for Redis server has unless its `databases` setting is raised. */
const DEFAULT_DATABASES = 16;
/** Fire times sampled to find a schedule's shortest interval and its average rate. */
const SAMPLED_RUNS = 60;

/** What one replica would do with a config: its targets, the cycles and commands a second, the connections. */
export interface LoadEstimate {
  readonly targets: number;
  readonly cyclesPerSecond: number;
  readonly commandsPerSecond: number;
  /** One per target (a cluster target holds one per primary, unknown until it runs). */
  readonly connections: number;
}

export function estimateLoad(config: DaemonConfig): LoadEstimate {
  const targets = ownedTargets(config.targets, config.shard);
  const cadence = cadences(targets.map((target) => target.schedule));
  let cyclesPerSecond = 0;
  let commandsPerSecond = 0;
  for (const target of targets) {
    const rate = cadence.get(target.schedule)?.cyclesPerSecond ?? 0;
    cyclesPerSecond += rate;
    commandsPerSecond += rate * target.steps.length;
  }
  return { targets: targets.length, cyclesPerSecond, commandsPerSecond, connections: targets.length };
}

/**
 * Settings that validate but will not work as meant; `validate` prints them and `run` logs them at start.
 * Targets with the same problem share one warning, so 10,000 alike targets do not print 10,000 lines.
 * Label limits of Azure managed Prometheus are among them.
 */
export function configWarnings(config: DaemonConfig): string[] {
  const groups = new Map<string, number[]>();
  const add = (index: number, problem: string) => groups.set(problem, [...(groups.get(problem) ?? []), index]);
  const cadence = cadences(config.targets.map((target) => target.schedule));
  config.targets.forEach((target, index) => {
    if (target.db >= DEFAULT_DATABASES) {
      add(
        index,
        `db ${target.db} is above ${DEFAULT_DATABASES - 1}; Redis and Azure Cache for Redis serve databases 0-${DEFAULT_DATABASES - 1} unless their databases setting is raised, and SELECT would fail every cycle if database ${target.db} does not exist`,
      );
    }
    if (target.timeoutMs < MIN_SENSIBLE_TIMEOUT_MS) {
      add(
        index,
        `timeout ${formatDurationMs(target.timeoutMs)} is below ${MIN_SENSIBLE_TIMEOUT_MS}ms; a step over a network, or a timer on a busy event loop, rarely completes that fast, so cycles would fail with reason timeout on a healthy server`,
      );
    }
    // A cycle ends at its first failed step, so a hung server costs one timeout (plus the steps before it):
    // the schedule cannot be met once one timeout fills the interval.
    const intervalMs = cadence.get(target.schedule)?.shortestIntervalMs;
    if (intervalMs !== undefined && target.timeoutMs >= intervalMs) {
      add(
        index,
        `timeout ${formatDurationMs(target.timeoutMs)} is not below the schedule's interval of ${formatDurationMs(intervalMs)}; a server that hangs holds a cycle until the timeout, and the next cycle is skipped: keep timeout below the interval`,
      );
    }
  });
  const warnings = [...groups].map(([problem, indexes]) => `${describeTargets(indexes)}: ${problem}`);
  const load = estimateLoad(config);
  if (load.cyclesPerSecond > MAX_CYCLES_PER_SECOND) {
    warnings.push(
      `this replica would run about ${Math.round(load.cyclesPerSecond)} cycles a second (${load.targets} targets); above ${MAX_CYCLES_PER_SECOND} a second one process runs out of CPU and its cycles start late or are skipped: lengthen the schedules or spread the targets over replicas with shard.count`,
    );
  }
  warnings.push(...labelLimitWarnings(config));
  return warnings;
}

function describeTargets(indexes: readonly number[]): string {
  const named = indexes.slice(0, 3).map((index) => `targets[${index}]`);
  if (indexes.length <= 3) return named.join(', ');
  return `${named.join(', ')} and ${indexes.length - 3} more`;
}

interface Cadence {
  readonly shortestIntervalMs: number;
  readonly cyclesPerSecond: number;
}

/** The shortest gap between fire times and the average rate of each distinct schedule, from its next runs. */
function cadences(schedules: readonly string[]): Map<string, Cadence> {
  const result = new Map<string, Cadence>();
  for (const expression of new Set(schedules)) {
    // An unstarted task only computes dates: no timer is created.
    const task = createTask(expression, () => undefined);
    const runs = task.getNextRuns(SAMPLED_RUNS).map((date) => date.getTime());
    void task.destroy();
    const gaps = runs.slice(1).map((at, index) => at - (runs[index] ?? at));
    if (gaps.length === 0) continue;
    const spanMs = gaps.reduce((sum, gap) => sum + gap, 0);
    result.set(expression, { shortestIntervalMs: Math.min(...gaps), cyclesPerSecond: (gaps.length * 1000) / spanMs });
  }
  return result;
}
