import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseRulesFile } from '../../scripts/gen-rules.ts';
import { dashboardExprs, dashboardPanels, loadDashboard, substituteGrafanaVariables } from './dashboard-exprs.ts';
import { readKustomization } from './manifests.ts';
import { knownSeriesNames, selectedMetricNames } from './metric-contract.ts';
import { runPromtool } from './promtool.ts';
import { BASE_DIR, DASHBOARD_FILE, K8S_DIR, RULES_FILE } from './paths.ts';

const dashboard = loadDashboard();
const panels = dashboardPanels(dashboard);
const exprs = dashboardExprs(dashboard);
const recorded = new Set(
  parseRulesFile(readFileSync(RULES_FILE, 'utf8'))
    .flatMap((g) => g.rules)
    .flatMap((r) => ('record' in r ? [r.record] : [])),
);

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0 && quote === undefined;
}

const panelWith = (pattern: RegExp) => panels.filter((p) => pattern.test(p.title ?? ''));

let workDir: string;
before(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-dashboard-'));
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('Grafana dashboard', { timeout: 60_000 }, () => {
  it('is valid JSON with a stable uid, small enough for a ConfigMap applied client-side', () => {
    assert.doesNotThrow(() => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as unknown);
    assert.equal(dashboard.uid, 'redis-probe');
    // kubectl apply (client-side) keeps a last-applied annotation limited to 256 KiB.
    assert.ok(statSync(DASHBOARD_FILE).size < 200 * 1024);
  });

  it('has a Prometheus datasource variable and a multi-value target variable from redis_probe_target_info', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars['datasource']?.type, 'datasource');
    assert.equal(vars['datasource']?.query, 'prometheus');
    const target = vars['target'];
    assert.equal(target?.type, 'query');
    assert.equal(target.multi, true);
    assert.equal(target.includeAll, true);
    assert.equal(target.allValue, '.*');
    assert.match(JSON.stringify(target.query), /label_values\(redis_probe_target_info\{[^}]*\}, target\)/);
  });

  it('every panel has a datasource and at least one expression; ids are unique; the grid is 24 wide', () => {
    assert.ok(panels.length >= 15);
    const ids = new Set<number>();
    for (const panel of [...dashboard.panels]) {
      assert.ok(panel.id !== undefined && !ids.has(panel.id), `duplicate or missing id: ${panel.title}`);
      ids.add(panel.id);
    }
    for (const panel of panels) {
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title}: datasource`);
      const targets = panel.targets ?? [];
      assert.ok(targets.length > 0 && targets.every((t) => (t.expr ?? '').trim() !== ''), `${panel.title}: expressions`);
      const gridPos = (panel as { gridPos?: { x: number; w: number } }).gridPos;
      assert.ok(gridPos && gridPos.x + gridPos.w <= 24, `${panel.title}: gridPos`);
    }
  });

  it('has the panels the brief asks for', () => {
    const exprOf = (pattern: RegExp) =>
      panelWith(pattern)
        .flatMap((p) => p.targets ?? [])
        .map((t) => t.expr ?? '')
        .join('\n');
    assert.match(exprOf(/^Availability \(30 days\)$/), /redis_probe:availability:ratio_rate30d/);
    assert.match(exprOf(/^Error budget remaining/), /redis_probe:error_budget_burn:rate30d/);
    assert.match(exprOf(/^Targets$/), /redis_probe_success/);
    assert.match(exprOf(/burn rate/i), /redis_probe:error_budget_burn:rate1h/);
    // The mean works at either metrics.detail; the quantile needs detail: full's buckets.
    assert.match(
      exprOf(/^Step latency \(mean\)$/),
      /sum by \(target, location, step\) \(rate\(redis_probe_step_duration_seconds_sum.*\/ sum by \(target, location, step\) \(rate\(redis_probe_step_duration_seconds_count/,
    );
    assert.match(
      exprOf(/^Step latency p99$/),
      /histogram_quantile\(0\.99, sum by \(target, location, step, le\) \(rate\(redis_probe_step_duration_seconds_bucket/,
    );
    assert.match(exprOf(/failures by reason/i), /sum by \(target, location, reason\) \(increase\(redis_probe_cycle_failures_total/);
    assert.match(exprOf(/failures by step/i), /sum by \(target, location, step\) \(increase\(redis_probe_cycle_failures_by_step_total/);
    const byReason = panelWith(/failures by reason/i)[0] as unknown as { fieldConfig: { defaults: { custom: { stacking: { mode: string } } } } };
    assert.equal(byReason.fieldConfig.defaults.custom.stacking.mode, 'normal');
    assert.match(exprOf(/since last success/i), /redis_probe_last_success_timestamp_seconds/);
    assert.match(exprOf(/token expires/i), /redis_probe_token_expiry_timestamp_seconds/);
    assert.match(exprOf(/TLS certificate/), /redis_probe_tls_cert_expiry_timestamp_seconds/);
    assert.match(exprOf(/maintenance in progress/i), /redis_probe_maintenance_in_progress/);
    assert.match(exprOf(/skipped/i), /redis_probe_cycles_skipped_total/);
  });

  it('maintenance notifications come from the per-minute recording, each minute counted once per interval', () => {
    const [panel] = panelWith(/^Maintenance events$/);
    assert.match(panel?.targets?.[0]?.expr ?? '', /sum_over_time\(redis_probe:maintenance_events:1m\{[^}]*\}\[\$__interval\]\)/);
    // Windows of $__interval tile the time range; at 1m or more each holds every one-a-minute sample once.
    assert.equal(panel?.interval, '1m');
  });

  it('every expression is balanced, fully substituted, and selects only contract metrics or recorded series', () => {
    const known = knownSeriesNames();
    assert.ok(exprs.length >= panels.length);
    for (const { source, raw, expr } of exprs) {
      assert.ok(balanced(raw), `${source}: unbalanced ${raw}`);
      assert.doesNotMatch(expr, /\$/, `${source}: unsubstituted variable in ${expr}`);
      for (const name of selectedMetricNames(expr)) {
        assert.ok(known.has(name) || recorded.has(name), `${source}: unknown series ${name}`);
      }
    }
  });

  it('every expression parses as PromQL (promtool check rules)', () => {
    const file = path.join(workDir, 'dashboard-exprs.yml');
    const rules = exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.expr }));
    writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { status, output } = runPromtool(['check', 'rules', file]);
    const failing = [...output.matchAll(/dashboard:expr_(\d+)/g)].map((m) => exprs[Number(m[1])]?.source);
    assert.equal(status, 0, `${output}\nfailing panels: ${failing.join(', ')}`);
  });

  it('the expression check catches a broken expression', () => {
    assert.equal(balanced('sum(rate(x[5m])'), false);
    const file = path.join(workDir, 'broken.yml');
    writeFileSync(file, YAML.stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (target (up)' }] }] }));
    assert.notEqual(runPromtool(['check', 'rules', file]).status, 0);
  });

  it('substitutes Grafana variables with values a real Prometheus accepts', () => {
    assert.equal(
      substituteGrafanaVariables('rate(x{target=~"$target"}[$__rate_interval]) + y{target=~"${target}"}'),
      'rate(x{target=~".*"}[1m]) + y{target=~".*"}',
    );
    assert.equal(substituteGrafanaVariables('x{cluster=~"$cluster", job=~"$job", location=~"${location}"}'), 'x{cluster=~".*", job=~".+", location=~".*"}');
  });

  it('ships as a ConfigMap labelled grafana_dashboard: "1" through k8s/base', () => {
    const grafanaDir = path.join(K8S_DIR, 'grafana');
    assert.ok(readKustomization(BASE_DIR).resourceDirs.includes(grafanaDir));
    const grafana = readKustomization(grafanaDir);
    assert.deepEqual(grafana.generatorInputs, [DASHBOARD_FILE]);
    const [generator] = grafana.raw['configMapGenerator'] as { options: { labels: Record<string, string> } }[];
    assert.equal(generator!.options.labels['grafana_dashboard'], '1');
  });
});
