/** Metric names the daemon promises (issue 1's contract), for checking rules and dashboards. */

export const CONTRACT_METRICS: readonly string[] = [
  'redis_probe_success',
  'redis_probe_cycles_total',
  'redis_probe_cycle_failures_total',
  'redis_probe_cycle_failures_by_step_total',
  'redis_probe_cycle_duration_seconds',
  'redis_probe_step_duration_seconds',
  'redis_probe_last_success_timestamp_seconds',
  'redis_probe_clients',
  'redis_probe_cycles_skipped_total',
  'redis_probe_target_info',
  'redis_probe_tls_cert_expiry_timestamp_seconds',
  'redis_probe_build_info',
  'redis_probe_token_expiry_timestamp_seconds',
  'redis_probe_token_refreshes_total',
  'redis_probe_token_refresh_duration_seconds',
  'redis_probe_maintenance_in_progress',
  'redis_probe_maintenance_events_total',
  'redis_probe_config_last_reload_successful',
  'redis_probe_sla_objective',
];

export const CONTRACT_HISTOGRAMS: readonly string[] = [
  'redis_probe_cycle_duration_seconds',
  'redis_probe_step_duration_seconds',
  'redis_probe_token_refresh_duration_seconds',
];

/** prom-client default metrics the dashboard uses, and Prometheus' own `up`. */
export const OTHER_METRICS: readonly string[] = ['up', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds'];

/** Every series name a query may select, histogram series included. */
export function knownSeriesNames(): Set<string> {
  const names = new Set([...CONTRACT_METRICS, ...OTHER_METRICS]);
  for (const histogram of CONTRACT_HISTOGRAMS) {
    for (const suffix of ['_bucket', '_count', '_sum']) names.add(histogram + suffix);
  }
  return names;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);

/**
 * The metric names an expression selects (a light lexer, not a parser: strings, label
 * matchers, ranges, modifier arguments and grouping label lists are removed, then every identifier that is
 * not a function call or keyword is a metric name).
 */
export function selectedMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    // a modifier's argument (a duration, a timestamp or a Grafana variable such as $__rate_interval) selects nothing
    .replace(/(\boffset|@)\s*(-?\$\{?\w+\}?|-?[0-9][0-9A-Za-z.]*|start\(\)|end\(\))/g, '$1')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const rest = stripped.slice(match.index + name.length);
    if (/^\s*\(/.test(rest)) continue; // function call
    if (/^\s*(by|without)\b/.test(rest)) continue; // aggregation: sum by (...) (...)
    if (KEYWORDS.has(name.toLowerCase())) continue;
    const before = stripped.slice(0, match.index);
    if (/[0-9.]$/.test(before)) continue; // exponent or duration suffix, e.g. 1e3
    names.add(name);
  }
  return [...names];
}
