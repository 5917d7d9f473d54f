/**
 * Every PromQL expression of the Grafana dashboard, with Grafana's variables replaced
 * so that the expression runs as it is against a real Prometheus (`$target` by `.*`,
 * `$__rate_interval` by `1m`).
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

interface DashboardTarget {
  refId?: string;
  expr?: string;
}

/** A dashboard panel as far as these tests care. */
export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean; allValue?: string }[] };
  annotations?: { list: { name: string; expr?: string }[] };
}

const SUBSTITUTIONS: readonly (readonly [RegExp, string])[] = [
  [/\$\{?__rate_interval\}?/g, '1m'],
  [/\$\{?__interval\}?/g, '1m'],
  [/\$\{?__range\}?/g, '1h'],
  [/\$\{?__range_s\}?/g, '3600'],
  // Multi-value template variables are used inside =~ matchers: match everything.
  [/\$\{target(?::[a-z]+)?\}/g, '.*'],
  [/\$target\b/g, '.*'],
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
