/**
 * The minute-based SLI as PromQL, in one place: `redis-probe sla` evaluates these at every minute
 * boundary, and k8s/rules/redis-probe.rules.yml records the same expressions (a test compares them).
 *
 * A minute is the span between the last scrape at or before its start and the last scrape at or
 * before its end, so consecutive minutes share no cycle and lose none. Within it:
 *   attempts = growth of redis_probe_cycles_total, failures = growth of redis_probe_cycle_failures_total
 *   (summed over every other label). Down: attempts > 0 and every attempt failed. No attempt: unknown.
 * Each raw series is differenced on its own before summing: a negative difference is a counter reset
 * (the daemon restarted), and then the count since the restart is the series' own value; a series
 * that did not exist a minute ago (a new pod, a first failure) counts from zero the same way. A
 * failure counter that restarted can end up above its old value, so its reset is read off the
 * cycle counter of the same process instead (ignoring the failure's own labels).
 */

/** How the SLI series are selected and grouped. */
export interface SliSelector {
  /** The scrape job (`job` label); the rules use "redis-probe". */
  readonly job: string;
  /** Only this target, when set. */
  readonly target?: string;
  /** Grouping labels of the result: the rules keep `location`, the report sums over it. */
  readonly by: readonly string[];
}

/** A PromQL string literal (double-quoted, escaped). */
export function promString(value: string): string {
  return JSON.stringify(value);
}

function matchers(selector: SliSelector): string {
  return [`job=${promString(selector.job)}`, ...(selector.target !== undefined ? [`target=${promString(selector.target)}`] : [])].join(', ');
}

/** Growth of each counter series over the minute ending at the evaluation time, resets included. */
function perMinute(series: string): string {
  return `(${series} - ${series} offset 1m) >= 0 or ${series}`;
}

/** Growth of each failure counter series over the minute; reset whenever its process's cycle counter reset. */
function failuresPerMinute(selector: SliSelector): string {
  const failures = `redis_probe_cycle_failures_total{${matchers(selector)}}`;
  const cycles = `redis_probe_cycles_total{${matchers(selector)}}`;
  return `(${failures} - ${failures} offset 1m) >= 0 unless ignoring (step, reason) (${cycles} < ${cycles} offset 1m) or ${failures}`;
}

/** Probe cycles (attempts) per minute. */
export function attemptsExpr(selector: SliSelector): string {
  return `sum by (${selector.by.join(', ')}) (${perMinute(`redis_probe_cycles_total{${matchers(selector)}}`)})`;
}

/** Failed cycles per minute; absent where no failure series exists (read as 0). */
export function failuresExpr(selector: SliSelector): string {
  return `sum by (${selector.by.join(', ')}) (${failuresPerMinute(selector)})`;
}

/** Failed cycles per minute and reason, only where some failed. */
export function failureReasonsExpr(selector: SliSelector): string {
  return `sum by (${[...selector.by, 'reason'].join(', ')}) (${failuresPerMinute(selector)}) > 0`;
}

/** Growth of each maintenance notification counter over the minute (a type's first notification included). */
function notificationsPerMinute(selector: SliSelector): string {
  return perMinute(`redis_probe_maintenance_events_total{${matchers(selector)}}`);
}

/**
 * Present (1) for minutes in which Azure's maintenance was in progress at any scrape, or a maintenance
 * notification arrived; absent otherwise (and always for targets that do not subscribe).
 */
export function maintenanceExpr(selector: SliSelector): string {
  const by = selector.by.join(', ');
  return (
    `(max by (${by}) (max_over_time(redis_probe_maintenance_in_progress{${matchers(selector)}}[1m])) > bool 0 == 1)` +
    ` or ` +
    `(sum by (${by}) (${notificationsPerMinute(selector)}) > bool 0 == 1)`
  );
}

/**
 * Azure maintenance notifications per minute and event type, only where some arrived. At the default
 * metrics.detail a type's counter appears with its first notification, which counts from zero like any
 * new series (see perMinute); increase() would miss it.
 */
export function maintenanceEventsExpr(selector: SliSelector): string {
  return `sum by (${[...selector.by, 'event'].join(', ')}) (${notificationsPerMinute(selector)}) > 0`;
}

/** The target's objective (ratio), from the daemon's redis_probe_sla_objective gauge. */
export function objectiveExpr(selector: SliSelector): string {
  return `max by (${selector.by.join(', ')}) (redis_probe_sla_objective{${matchers(selector)}})`;
}
