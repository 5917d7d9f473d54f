/**
 * The Grafana dashboard against grafana/dashboard-linter's rules (written again in
 * dashboard-lint.ts, which lists the rules left out and why) and issue 16's own: variables for
 * the datasource, cluster, job, location and target; no panel that merges locations; a unit and a
 * description on every panel; $__rate_interval in every rate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { dashboardPanels, loadDashboard } from './dashboard-exprs.ts';
import type { Dashboard } from './dashboard-exprs.ts';
import { LINT_RULES, lintDashboard, promqlToParse, selectors } from './dashboard-lint.ts';
import { selectedMetricNames } from './metric-contract.ts';
import { runPromtool } from './promtool.ts';

const dashboard = loadDashboard();
const fresh = (): Dashboard => structuredClone(dashboard);
const panelTitled = (d: Dashboard, title: string) => {
  const panel = dashboardPanels(d).find((p) => p.title === title);
  assert.ok(panel, `no panel ${title}`);
  return panel;
};
const variable = (d: Dashboard, name: string) => {
  const v = d.templating.list.find((x) => x.name === name);
  assert.ok(v, `no variable ${name}`);
  return v;
};
const firstTarget = (d: Dashboard, title: string) => panelTitled(d, title).targets![0]!;

/** One breakage per rule: each must be reported by that rule (so no rule passes vacuously). */
const MUTANTS: Readonly<Record<string, (d: Dashboard) => void>> = {
  'template-datasource-rule': (d) => {
    variable(d, 'datasource').name = 'ds';
  },
  'template-job-rule': (d) => {
    variable(d, 'job').allValue = '.*';
  },
  'template-label-promql-rule': (d) => {
    variable(d, 'target').query = { query: 'targets(redis_probe_target_info)' };
  },
  'template-on-time-change-reload-rule': (d) => {
    variable(d, 'location').refresh = 1;
  },
  'panel-datasource-rule': (d) => {
    panelTitled(d, 'CPU').datasource = { type: 'prometheus', uid: 'P1809F7CD0C75ACF3' };
  },
  'panel-title-description-rule': (d) => {
    delete panelTitled(d, 'Targets').description;
  },
  'panel-units-rule': (d) => {
    delete panelTitled(d, 'Probe result').fieldConfig!.defaults!.unit;
  },
  'panel-no-targets-rule': (d) => {
    panelTitled(d, 'Build').targets = [];
  },
  'target-rate-interval-rule': (d) => {
    const target = firstTarget(d, 'CPU');
    target.expr = target.expr!.replace('[$__rate_interval]', '[5m]');
  },
  'target-job-rule': (d) => {
    const target = firstTarget(d, 'Memory (RSS)');
    target.expr = target.expr!.replace('job=~"$job", ', '');
  },
  'target-counter-agg-rule': (d) => {
    firstTarget(d, 'Skipped cycles').expr =
      'sum by (target, location) (redis_probe_cycles_skipped_total{cluster=~"$cluster", job=~"$job", location=~"$location", target=~"$target"})';
  },
  'uneditable-dashboard': (d) => {
    d.editable = true;
  },
  'redis-probe-prometheus-only': (d) => {
    panelTitled(d, 'CPU').datasource = { type: 'loki', uid: '${datasource}' };
  },
  'redis-probe-filter-variables': (d) => {
    variable(d, 'location').includeAll = false;
  },
  'redis-probe-selectors-use-variables': (d) => {
    const target = firstTarget(d, 'Availability (30 days)');
    target.expr = target.expr!.replace('location=~"$location", ', '');
  },
  'redis-probe-no-hidden-location': (d) => {
    const target = firstTarget(d, 'Probe result');
    target.expr = target.expr!.replace('max by (target, location)', 'max by (target)');
  },
};

let workDir: string;
before(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-dashboard-lint-'));
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('Grafana dashboard: dashboard-linter rules', { timeout: 60_000 }, () => {
  for (const [name, rule] of Object.entries(LINT_RULES)) {
    it(`${name}: no problem`, () => {
      assert.deepEqual(rule(dashboard), []);
    });
  }

  it('target-promql-rule and template-label-promql-rule: every query and every variable selector parses (promtool)', () => {
    const exprs = promqlToParse(dashboard);
    assert.ok(exprs.some((e) => e.at === 'variable target') && exprs.some((e) => e.at === 'variable location'));
    const file = path.join(workDir, 'lint-exprs.yml');
    writeFileSync(file, YAML.stringify({ groups: [{ name: 'lint', rules: exprs.map((e, i) => ({ record: `lint:expr_${i}`, expr: e.expr })) }] }));
    const { status, output } = runPromtool(['check', 'rules', file]);
    const failing = [...output.matchAll(/lint:expr_(\d+)/g)].map((m) => exprs[Number(m[1])]?.at);
    assert.equal(status, 0, `${output}\nfailing: ${failing.join(', ')}`);
  });

  it('a modifier argument is not a selection: offset and @ with a duration, a timestamp or a Grafana variable', () => {
    assert.deepEqual(selectedMetricNames('x{job=~"$job"} unless x{job=~"$job"} offset $__rate_interval'), ['x']);
    assert.deepEqual(selectedMetricNames('y offset ${__rate_interval} + z offset -5m + w @ 1700000000 + v @ end()'), ['y', 'z', 'w', 'v']);
    assert.deepEqual(
      selectors('x{job=~"$job"} unless x{job=~"$job"} offset $__rate_interval').map((s) => s.matchers),
      ['{job=~"$job"}', '{job=~"$job"}'],
    );
  });

  it('every rule reports the breakage it exists for', () => {
    assert.deepEqual(Object.keys(MUTANTS).sort(), Object.keys(LINT_RULES).sort(), 'one mutant per rule');
    for (const [name, mutate] of Object.entries(MUTANTS)) {
      const broken = fresh();
      mutate(broken);
      const rules = new Set(lintDashboard(broken).map((p) => p.rule));
      assert.ok(rules.has(name), `${name} did not report its mutant (reported: ${[...rules].join(', ') || 'nothing'})`);
    }
  });

  it('the variables: datasource, then cluster, job, location and target, each filtering the next', () => {
    assert.deepEqual(
      dashboard.templating.list.map((v) => v.name),
      ['datasource', 'cluster', 'job', 'location', 'target'],
    );
    assert.match(
      JSON.stringify(variable(dashboard, 'location').query),
      /label_values\(redis_probe_build_info\{cluster=~\\"\$cluster\\", job=~\\"\$job\\"\}, location\)/,
    );
    assert.match(
      JSON.stringify(variable(dashboard, 'target').query),
      /label_values\(redis_probe_target_info\{cluster=~\\"\$cluster\\", job=~\\"\$job\\", location=~\\"\$location\\"\}, target\)/,
    );
    // cluster and location may be absent from every series (one cluster, no `location` set): All must match that.
    for (const name of ['cluster', 'location', 'target']) assert.equal(variable(dashboard, name).allValue, '.*', name);
  });

  it('the SLA row stays, with its panels on the minute-based series', () => {
    const rowIndex = dashboard.panels.findIndex((p) => p.type === 'row' && (p.title ?? '').startsWith('SLA'));
    assert.ok(rowIndex >= 0, 'no SLA row');
    const slaPanels = dashboard.panels.slice(rowIndex + 1).filter((p) => p.type !== 'row');
    assert.ok(slaPanels.length >= 3);
    for (const panel of slaPanels) assert.match(JSON.stringify(panel.targets), /redis_probe:sla_minute_down:1m/, panel.title);
  });
});
