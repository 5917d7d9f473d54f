/**
 * Every PromQL expression of the Grafana dashboard, with Grafana's variables replaced
 * so that the expression runs as it is against a real Prometheus (`$target`, `$cluster`,
 * `$location` by `.*`, `$job` by `.+`, `$__rate_interval` by `1m`).
 */
import { readFileSync } from 'node:fs';
import { DASHBOARD_FILE } from './paths.ts';

export interface DashboardExpr {
  /** Panel title, or `annotation: <name>`. */
  readonly source: string;
  readonly refId: string;
  /** As written in the dashboard. */
  readonly raw: string;
  /** With the variables substituted. */
  readonly expr: string;
}

/** A panel's query. */
export interface DashboardTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

/** A dashboard panel as far as these tests care. */
export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  /** The minimum query interval ($__interval never goes below it). */
  interval?: string;
  datasource?: { type?: string; uid?: string };
  fieldConfig?: { defaults?: { unit?: string }; overrides?: { properties?: { id: string; value?: unknown }[] }[] };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

/** A template variable. */
export interface DashboardVariable {
  name: string;
  label?: string;
  type: string;
  query?: unknown;
  definition?: string;
  datasource?: { type?: string; uid?: string };
  refresh?: number;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}

export interface Dashboard {
  title: string;
  uid: string;
  editable?: boolean;
  panels: DashboardPanel[];
  templating: { list: DashboardVariable[] };
  annotations?: { list: { name: string; expr?: string }[] };
}

const SUBSTITUTIONS: readonly (readonly [RegExp, string])[] = [
  [/\$\{?__rate_interval\}?/g, '1m'],
  [/\$\{?__interval\}?/g, '1m'],
  [/\$\{?__range\}?/g, '1h'],
  [/\$\{?__range_s\}?/g, '3600'],
  // Multi-value template variables are used inside =~ matchers, with their allValue ("All"):
  // `job` is always set (.+); cluster and location may be absent from a series (.*).
  [/\$\{job(?::[a-z]+)?\}/g, '.+'],
  [/\$job\b/g, '.+'],
  [/\$\{(target|cluster|location)(?::[a-z]+)?\}/g, '.*'],
  [/\$(target|cluster|location)\b/g, '.*'],
];

/** Grafana variables replaced by values that keep the expression valid PromQL. */
export function substituteGrafanaVariables(expr: string): string {
  return SUBSTITUTIONS.reduce((text, [pattern, value]) => text.replace(pattern, value), expr);
}

export function loadDashboard(file: string = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Panels in display order, rows' nested panels included, rows themselves excluded. */
export function dashboardPanels(dashboard: Dashboard = loadDashboard()): DashboardPanel[] {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? (panel.panels ?? []) : [panel]));
}

/** All panel (and annotation) expressions, ready to evaluate. */
export function dashboardExprs(dashboard: Dashboard = loadDashboard()): DashboardExpr[] {
  const fromPanels = dashboardPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => typeof target.expr === 'string')
      .map((target) => ({
        source: panel.title ?? `panel ${panel.id ?? '?'}`,
        refId: target.refId ?? '',
        raw: target.expr!,
        expr: substituteGrafanaVariables(target.expr!),
      })),
  );
  const fromAnnotations = (dashboard.annotations?.list ?? [])
    .filter((annotation) => typeof annotation.expr === 'string')
    .map((annotation) => ({
      source: `annotation: ${annotation.name}`,
      refId: '',
      raw: annotation.expr!,
      expr: substituteGrafanaVariables(annotation.expr!),
    }));
  return [...fromPanels, ...fromAnnotations];
}
