/**
 * The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter, its default rule
 * set), written again by hand against the dashboard JSON, plus the checks issue 16 adds (the
 * cluster/location/target variables, no aggregation that hides a location). Each check returns
 * its problems; an empty list is a pass. PromQL parsing itself (target-promql-rule,
 * template-label-promql-rule) needs promtool: see `promqlToParse`.
 *
 * Deliberately not applied, with the reason:
 * - template-instance-rule, target-instance-rule: `instance` is the prober pod. Each target is
 *   probed by one pod per location, and pods are replaced on every rollout, so an instance
 *   filter hides targets instead of narrowing them; location and cluster are the dimensions a
 *   reader filters on.
 * - target-job-rule on recorded series (redis_probe:...): the recording rules aggregate `job`
 *   away (they select job="redis-probe" themselves); the rule applies to every raw series.
 * - target-logql-rule, target-logql-auto-rule: no Loki query; a check asserts every query is
 *   Prometheus.
 */
import { selectedMetricNames } from './metric-contract.ts';
import { dashboardPanels, substituteGrafanaVariables } from './dashboard-exprs.ts';
import type { Dashboard, DashboardPanel, DashboardVariable } from './dashboard-exprs.ts';

export interface LintProblem {
  readonly rule: string;
  readonly where: string;
  readonly message: string;
}

/**
 * Grafana unit ids (packages/grafana-data/src/valueFormats/categories.ts) a probe dashboard can
 * use; the linter accepts any of Grafana's ids, this list is the subset worth allowing here.
 */
export const GRAFANA_UNITS: ReadonlySet<string> = new Set([
  'none',
  'short',
  'percent',
  'percentunit',
  'locale',
  'sci',
  'ns',
  'µs',
  'ms',
  's',
  'm',
  'h',
  'd',
  'dtdurationms',
  'dtdurations',
  'dthms',
  'dtdhms',
  'bytes',
  'decbytes',
  'bits',
  'decbits',
  'Bps',
  'bps',
  'binBps',
  'ops',
  'reqps',
  'rps',
  'wps',
  'iops',
  'cps',
  'opm',
  'rpm',
  'dateTimeAsIso',
  'dateTimeAsLocal',
  'dateTimeFromNow',
  'bool',
  'bool_yes_no',
  'bool_on_off',
]);

/** Variables issue 16 asks for, each multi-select with All. */
export const FILTER_VARIABLES = ['cluster', 'location', 'target'] as const;

const DATASOURCE_REFS = new Set(['$datasource', '${datasource}']);
const where = (panel: DashboardPanel): string => `panel ${JSON.stringify(panel.title ?? `#${panel.id ?? '?'}`)}`;

/** Every `name{matchers}` or bare `name` selection of a metric in an expression, with its matchers text. */
export function selectors(expr: string): { metric: string; matchers: string }[] {
  const out: { metric: string; matchers: string }[] = [];
  for (const metric of selectedMetricNames(expr)) {
    const escaped = metric.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const m of expr.matchAll(new RegExp(`(?<![A-Za-z0-9_:])${escaped}(?![A-Za-z0-9_:])\\s*(\\{[^}]*\\})?`, 'g'))) {
      // a label name inside another selector's braces, or inside by (...), is not a selection
      const before = expr.slice(0, m.index);
      if (/\{[^}]*$/.test(before) || /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.test(before)) continue;
      out.push({ metric, matchers: m[1] ?? '' });
    }
  }
  return out;
}

/** The contents of every `fn(...)` call in an expression, for the functions named. */
function callArguments(expr: string, functions: readonly string[]): { fn: string; args: string }[] {
  const out: { fn: string; args: string }[] = [];
  for (const m of expr.matchAll(new RegExp(`\\b(${functions.join('|')})\\s*\\(`, 'g'))) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < expr.length && depth > 0; i++) {
      if (expr[i] === '(') depth++;
      else if (expr[i] === ')') depth--;
    }
    out.push({ fn: m[1]!, args: expr.slice(start, i - 1) });
  }
  return out;
}

const queryOf = (variable: DashboardVariable): string =>
  typeof variable.query === 'string' ? variable.query : ((variable.query as { query?: string } | undefined)?.query ?? '');

export type LintRule = (dashboard: Dashboard) => LintProblem[];

/** The rules, by the name dashboard-linter gives them (issue 16's own checks are prefixed `redis-probe-`). */
export const LINT_RULES: Readonly<Record<string, LintRule>> = {
  'template-datasource-rule': (d) => {
    const vars = d.templating.list.filter((v) => v.type === 'datasource');
    if (vars.length === 0) return [{ rule: 'template-datasource-rule', where: 'templating', message: 'no datasource variable' }];
    return vars.flatMap((v) => {
      const problems: LintProblem[] = [];
      const query = String(v.query ?? '');
      const allowedNames = vars.length === 1 ? ['datasource', `${query.toLowerCase()}_datasource`] : [`${query.toLowerCase()}_datasource`];
      if (!allowedNames.includes(v.name))
        problems.push({ rule: 'template-datasource-rule', where: `variable ${v.name}`, message: `should be named ${allowedNames.join(' or ')}` });
      const titled = `${query.charAt(0).toUpperCase()}${query.slice(1)} data source`;
      if (!(vars.length === 1 && v.label === 'Data source') && v.label !== titled) {
        problems.push({ rule: 'template-datasource-rule', where: `variable ${v.name}`, message: `label ${JSON.stringify(v.label)}, should be "Data source"` });
      }
      if (query !== 'prometheus') problems.push({ rule: 'template-datasource-rule', where: `variable ${v.name}`, message: `query ${query}, want prometheus` });
      return problems;
    });
  },

  'template-job-rule': (d) => {
    const job = d.templating.list.find((v) => v.name === 'job');
    const p = (message: string): LintProblem => ({ rule: 'template-job-rule', where: 'variable job', message });
    if (!job) return [p('missing')];
    return [
      ...(DATASOURCE_REFS.has(job.datasource?.uid ?? '') ? [] : [p(`datasource ${job.datasource?.uid}, want $datasource`)]),
      ...(job.type === 'query' ? [] : [p(`type ${job.type}, want query`)]),
      ...(job.label === 'Job' ? [] : [p(`label ${job.label}, want Job`)]),
      ...(job.multi === true ? [] : [p('not multi-select')]),
      ...(job.allValue === '.+' ? [] : [p(`allValue ${job.allValue}, want .+`)]),
    ];
  },

  'template-label-promql-rule': (d) =>
    d.templating.list
      .filter((v) => v.type === 'query')
      .flatMap((v) => {
        const m = /^([a-z_]+)\((.+)\)$/s.exec(queryOf(v).trim());
        if (!m) return [{ rule: 'template-label-promql-rule', where: `variable ${v.name}`, message: `query ${JSON.stringify(queryOf(v))} is not fn(...)` }];
        if (!['label_names', 'label_values', 'metrics', 'query_result'].includes(m[1]!)) {
          return [{ rule: 'template-label-promql-rule', where: `variable ${v.name}`, message: `unknown function ${m[1]}` }];
        }
        return [];
      }),

  'template-on-time-change-reload-rule': (d) =>
    d.templating.list
      .filter((v) => v.type === 'query' && v.refresh !== 2)
      .map((v) => ({
        rule: 'template-on-time-change-reload-rule',
        where: `variable ${v.name}`,
        message: `refresh ${v.refresh}, want 2 (on time range change)`,
      })),

  'panel-datasource-rule': (d) =>
    dashboardPanels(d).flatMap((panel) => [
      ...(DATASOURCE_REFS.has(panel.datasource?.uid ?? '')
        ? []
        : [{ rule: 'panel-datasource-rule', where: where(panel), message: `datasource ${panel.datasource?.uid}` }]),
      ...(panel.targets ?? [])
        .filter((t) => t.datasource !== undefined && !DATASOURCE_REFS.has(t.datasource.uid ?? ''))
        .map((t) => ({ rule: 'panel-datasource-rule', where: `${where(panel)} ${t.refId ?? ''}`, message: `query datasource ${t.datasource?.uid}` })),
    ]),

  // The linter checks stat, table, timeseries and gauge panels; here every panel.
  'panel-title-description-rule': (d) =>
    dashboardPanels(d)
      .filter((panel) => !panel.title?.trim() || !panel.description?.trim())
      .map((panel) => ({ rule: 'panel-title-description-rule', where: where(panel), message: 'missing title or description' })),

  // The linter skips panels with value mappings; here every panel needs a unit of its own.
  'panel-units-rule': (d) =>
    dashboardPanels(d).flatMap((panel) => {
      const unit = panel.fieldConfig?.defaults?.unit;
      const overrides = (panel.fieldConfig?.overrides ?? []).flatMap((o) => o.properties ?? []).filter((prop) => prop.id === 'unit');
      const bad = [unit, ...overrides.map((o) => String(o.value))].filter((u) => u === undefined || !GRAFANA_UNITS.has(u));
      return bad.length === 0 ? [] : [{ rule: 'panel-units-rule', where: where(panel), message: `no or unknown unit: ${bad.map(String).join(', ')}` }];
    }),

  'panel-no-targets-rule': (d) =>
    dashboardPanels(d)
      .filter((panel) => (panel.targets ?? []).filter((t) => (t.expr ?? '').trim() !== '').length === 0)
      .map((panel) => ({ rule: 'panel-no-targets-rule', where: where(panel), message: 'no query' })),

  // The linter requires $__rate_interval in rate() and irate(); increase() too here.
  'target-rate-interval-rule': (d) =>
    eachExpr(d).flatMap(({ at, expr }) =>
      callArguments(expr, ['rate', 'irate', 'increase'])
        .filter(({ args }) => /\[([^\]]+)\]\s*$/.exec(args)?.[1] !== '$__rate_interval')
        .map(({ fn, args }) => ({ rule: 'target-rate-interval-rule', where: at, message: `${fn}(${args}) does not use [$__rate_interval]` })),
    ),

  'target-job-rule': (d) =>
    eachExpr(d).flatMap(({ at, expr }) =>
      selectors(expr)
        .filter((s) => !s.metric.includes(':') && !/\bjob=~"\$job"/.test(s.matchers))
        .map((s) => ({ rule: 'target-job-rule', where: at, message: `${s.metric}${s.matchers} has no job=~"$job"` })),
    ),

  // A counter (_total) only as the direct argument of rate, irate or increase over a range.
  'target-counter-agg-rule': (d) =>
    eachExpr(d).flatMap(({ at, expr }) => {
      const rest = expr.replace(/\b(?:rate|irate|increase)\(\s*[A-Za-z_:][A-Za-z0-9_:]*\s*(?:\{[^}]*\})?\s*\[[^\]]+\]\s*\)/g, 'x');
      return selectors(rest)
        .filter((s) => s.metric.endsWith('_total'))
        .map((s) => ({ rule: 'target-counter-agg-rule', where: at, message: `${s.metric} is not directly inside rate, irate or increase` }));
    }),

  'uneditable-dashboard': (d) => (d.editable === false ? [] : [{ rule: 'uneditable-dashboard', where: 'dashboard', message: 'editable should be false' }]),

  'redis-probe-prometheus-only': (d) =>
    dashboardPanels(d)
      .filter((panel) => panel.datasource?.type !== 'prometheus')
      .map((panel) => ({ rule: 'redis-probe-prometheus-only', where: where(panel), message: `datasource type ${panel.datasource?.type}` })),

  'redis-probe-filter-variables': (d) =>
    FILTER_VARIABLES.flatMap((name) => {
      const v = d.templating.list.find((variable) => variable.name === name);
      if (!v) return [{ rule: 'redis-probe-filter-variables', where: `variable ${name}`, message: 'missing' }];
      const ok = v.type === 'query' && v.multi === true && v.includeAll === true && DATASOURCE_REFS.has(v.datasource?.uid ?? '');
      return ok
        ? []
        : [{ rule: 'redis-probe-filter-variables', where: `variable ${name}`, message: 'should be a query variable on $datasource, multi-select with All' }];
    }),

  // Every raw series is filtered by cluster and location (`up` has no location: the scrape adds
  // it only to what the daemon exports), and by target where it has one.
  'redis-probe-selectors-use-variables': (d) =>
    eachExpr(d).flatMap(({ at, expr }) =>
      selectors(expr).flatMap((s) => {
        const want = ['cluster', ...(s.metric === 'up' ? [] : ['location']), ...(TARGET_SERIES.test(s.metric) ? ['target'] : [])];
        const missing = want.filter((label) => !new RegExp(`\\b${label}=~"\\$${label}"`).test(s.matchers));
        return missing.length === 0
          ? []
          : [{ rule: 'redis-probe-selectors-use-variables', where: at, message: `${s.metric}${s.matchers} lacks ${missing.join(', ')}` }];
      }),
    ),

  // `max by (target)` over several locations shows a target up while one region cannot reach it.
  'redis-probe-no-hidden-location': (d) =>
    eachExpr(d).flatMap(({ at, expr }) =>
      [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)]
        .filter((m) => m[0].startsWith('by') && /\b(target|credential)\b/.test(m[1]!) && !/\blocation\b/.test(m[1]!))
        .map((m) => ({ rule: 'redis-probe-no-hidden-location', where: at, message: `${m[0]} merges locations` })),
    ),
};

/** Series that carry a `target` label (checked for a target matcher). */
const TARGET_SERIES = /^redis_probe(_(success|cycles|cycle|step|last_success|clients|target_info|tls_cert|maintenance)|:)/;

/** Every panel and annotation expression, raw, with where it is. */
export function eachExpr(d: Dashboard): { at: string; expr: string }[] {
  return [
    ...dashboardPanels(d).flatMap((panel) => (panel.targets ?? []).map((t) => ({ at: `${where(panel)} ${t.refId ?? ''}`.trim(), expr: t.expr ?? '' }))),
    ...(d.annotations?.list ?? []).filter((a) => a.expr !== undefined).map((a) => ({ at: `annotation ${a.name}`, expr: a.expr! })),
  ];
}

/** Runs every rule. */
export function lintDashboard(d: Dashboard): LintProblem[] {
  return Object.values(LINT_RULES).flatMap((rule) => rule(d));
}

/**
 * PromQL to parse with promtool for target-promql-rule (every query) and
 * template-label-promql-rule (the series selector inside each label_values()), with the
 * variables substituted.
 */
export function promqlToParse(d: Dashboard): { at: string; expr: string }[] {
  const fromVariables = d.templating.list
    .filter((v) => v.type === 'query')
    .flatMap((v) => {
      const m = /^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$/s.exec(queryOf(v).trim());
      return m ? [{ at: `variable ${v.name}`, expr: substituteGrafanaVariables(m[1]!) }] : [];
    });
  return [...eachExpr(d).map((e) => ({ ...e, expr: substituteGrafanaVariables(e.expr) })), ...fromVariables];
}
