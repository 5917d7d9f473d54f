/**
 * `redis-probe slo-spec`: the Sloth spec holds to the rules Sloth validates (names, the window variable,
 * objective range, distinct queries), its SLI queries rendered the way Sloth renders them compute, under
 * the real promtool, the same error ratio as the shipped rules, and the command behaves as a CLI should.
 * Sloth itself is a Go binary that cannot be installed here, so the rendering follows its events SLI
 * rule: `(error_query) / (total_query)` with each window substituted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { SLOTH_NAME, SLOTH_SERVICE, SLOTH_WINDOW, SloSpecError, sloName, slothSpec } from '../../src/sla/slo-spec.ts';
import type { SlothSpec } from '../../src/sla/slo-spec.ts';
import { RULES_FILE } from '../../scripts/gen-rules.ts';
import { runPromtool } from '../deploy/promtool.ts';
import { runCli } from '../support/cli-process.ts';

/** The windows Sloth records its SLI over (its default 30-day period and the multi-window alerts). */
const SLOTH_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const;
/** Sloth's template variable, spaces optional (its TplSLIQueryWindowVarRegex). */
const WINDOW_VARIABLE = /\{\{ *\.window *\}\}/g;

const TARGETS = [
  { name: 'orders', objective: 0.999, labels: { team: 'payments', env: 'prod' } },
  { name: 'eu:sessions.', objective: 0.9999, labels: {} },
  { name: 'a', objective: 0.95, labels: {} },
];

/** Sloth's recording rules for the SLI of every SLO and window, rendered as Sloth renders them. */
function slothSliRules(spec: SlothSpec): { record: string; expr: string; labels: Record<string, string> }[] {
  return spec.slos.flatMap((slo) =>
    SLOTH_WINDOWS.map((window) => ({
      record: `slo:sli_error:ratio_rate${window}`,
      expr: `(${slo.sli.events.error_query})\n/\n(${slo.sli.events.total_query})\n`.replace(WINDOW_VARIABLE, window),
      labels: { ...slo.labels, sloth_service: spec.service, sloth_slo: slo.name, sloth_window: window },
    })),
  );
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'redis-probe-slo-spec-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('the Sloth spec', () => {
  const spec = slothSpec(TARGETS, 'redis-probe');

  it('has one SLO per target with its objective in percent, its labels and valid Sloth names', () => {
    assert.equal(spec.version, 'prometheus/v1');
    assert.deepEqual(
      spec.slos.map((s) => [s.name, s.objective]),
      [
        ['orders-availability', 99.9],
        ['eu_sessions.-availability', 99.99],
        ['a-availability', 95],
      ],
    );
    for (const name of [spec.service, ...spec.slos.flatMap((s) => [s.name, `${SLOTH_SERVICE}-${s.name}`])]) {
      assert.match(name, SLOTH_NAME, `Sloth refuses the name ${name}`);
    }
    assert.deepEqual(spec.slos[0]?.labels, { team: 'payments', env: 'prod', target: 'orders' });
    assert.deepEqual(spec.slos[1]?.alerting.labels, { target: 'eu:sessions.' });
  });

  it('every SLO passes the checks Sloth makes before generating', () => {
    for (const slo of spec.slos) {
      const { error_query: error, total_query: total } = slo.sli.events;
      assert.notEqual(error, total);
      for (const query of [error, total]) assert.ok(query.includes(SLOTH_WINDOW) && new RegExp(WINDOW_VARIABLE.source).test(query), query);
      assert.ok(slo.objective > 0 && slo.objective <= 100);
      assert.ok(slo.alerting.name !== '');
      assert.deepEqual(slo.alerting.page_alert.labels, { severity: 'critical' });
      assert.deepEqual(slo.alerting.ticket_alert.labels, { severity: 'warning' });
    }
  });

  it('selects the job it is given and quotes target names as PromQL strings', () => {
    const [slo] = slothSpec([{ name: 'we"ird', objective: 0.999, labels: {} }], 'probes').slos;
    assert.match(slo?.sli.events.total_query ?? '', /^sum\(rate\(redis_probe_cycles_total\{job="probes", target="we\\"ird"\}\[\{\{ \.window \}\}\]\)\)$/);
  });

  it('refuses two targets that would share an SLO name, naming both, and a job that is empty or a template', () => {
    assert.throws(
      () => slothSpec([TARGETS[0]!, { name: 'x:y', objective: 0.999, labels: {} }, { name: 'x_y', objective: 0.999, labels: {} }], 'redis-probe'),
      (error: unknown) => error instanceof SloSpecError && error.message.includes('"x:y" and "x_y"') && error.message.includes('rename one'),
    );
    assert.throws(() => slothSpec(TARGETS, ''), /--job must not be empty/);
    assert.throws(() => slothSpec(TARGETS, 'a{{ .window }}'), /Sloth would read as a template/);
    assert.equal(sloName('a:b:c'), 'a_b_c-availability');
  });

  it('rendered as Sloth renders it, every window parses and the error ratio equals the shipped rules (promtool)', async () => {
    const sloRules = path.join(dir, 'sloth-sli.rules.yml');
    await writeFile(sloRules, YAML.stringify({ groups: [{ name: 'sloth-sli', rules: slothSliRules(slothSpec(TARGETS.slice(0, 2), 'redis-probe')) }] }));
    const checked = runPromtool(['check', 'rules', sloRules]);
    assert.equal(checked.status, 0, checked.output);

    // orders: 4 cycles a minute, 1 failing, over two failure series; eu:sessions. never failed (no failure series).
    const perTarget = (expr: string, orders: number, sessions: number) => ({
      expr: `sum by (target) (${expr})`,
      eval_time: '20m',
      exp_samples: [
        { labels: '{target="orders"}', value: orders },
        { labels: '{target="eu:sessions."}', value: sessions },
      ],
    });
    const unitTest = path.join(dir, 'sloth-sli.test.yml');
    await writeFile(
      unitTest,
      YAML.stringify({
        rule_files: [sloRules, RULES_FILE],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              { series: 'redis_probe_cycles_total{job="redis-probe", instance="p:9637", target="orders"}', values: '0+4x30' },
              { series: 'redis_probe_cycle_failures_total{job="redis-probe", instance="p:9637", target="orders", reason="timeout"}', values: '0+1x30' },
              { series: 'redis_probe_cycle_failures_total{job="redis-probe", instance="p:9637", target="orders", reason="tls"}', values: '0+0x30' },
              { series: 'redis_probe_cycles_total{job="redis-probe", instance="p:9637", target="eu:sessions."}', values: '0+4x30' },
              { series: 'redis_probe_sla_objective{job="redis-probe", instance="p:9637", target="orders"}', values: '0.999x30' },
              { series: 'redis_probe_sla_objective{job="redis-probe", instance="p:9637", target="eu:sessions."}', values: '0.9999x30' },
              // another job is not counted
              { series: 'redis_probe_cycle_failures_total{job="other", instance="q:9637", target="orders", reason="timeout"}', values: '0+4x30' },
            ],
            promql_expr_test: [
              perTarget('slo:sli_error:ratio_rate5m{sloth_window="5m"}', 0.25, 0),
              perTarget('slo:sli_error:ratio_rate1h{sloth_window="1h"}', 0.25, 0),
              perTarget('redis_probe:error:ratio_rate5m', 0.25, 0),
            ],
          },
        ],
      }),
    );
    const tested = runPromtool(['test', 'rules', unitTest]);
    assert.equal(tested.status, 0, tested.output);
  });
});

describe('redis-probe slo-spec', { timeout: 60_000 }, () => {
  const SECRET = 'slo-spec-secret-Zq81';
  let configPath: string;
  before(async () => {
    await writeFile(path.join(dir, 'key'), `${SECRET}\n`);
    configPath = path.join(dir, 'config.yaml');
    await writeFile(
      configPath,
      `defaults: { sla: { objective: 99.95 } }
credentials:
  - { name: key, type: access-key, passwordFile: key }
targets:
  - { name: orders, host: orders.redis.cache.windows.net, credential: key, labels: { team: payments }, sla: { objective: 99.99 } }
  - { name: "eu:sessions", host: 127.0.0.1, port: 6379, tls: { enabled: false } }
`,
    );
  });

  it('prints the spec of every target, objectives from the config, and nothing secret', async () => {
    const run = await runCli(['slo-spec', '--config', configPath]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^# Sloth SLO spec generated by `redis-probe slo-spec`/);
    const spec = YAML.parse(run.stdout) as SlothSpec;
    assert.equal(spec.version, 'prometheus/v1');
    assert.deepEqual(
      spec.slos.map((s) => [s.name, s.objective, s.labels]),
      [
        ['orders-availability', 99.99, { team: 'payments', target: 'orders' }],
        ['eu_sessions-availability', 99.95, { target: 'eu:sessions' }],
      ],
    );
    assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
  });

  it('--target keeps one SLO and --job selects the scrape job', async () => {
    const run = await runCli(['slo-spec', '--config', configPath, '--target', 'eu:sessions', '--job', 'probes']);
    assert.equal(run.code, 0, run.stderr);
    const spec = YAML.parse(run.stdout) as SlothSpec;
    assert.deepEqual(
      spec.slos.map((s) => s.name),
      ['eu_sessions-availability'],
    );
    assert.match(spec.slos[0]?.sli.events.error_query ?? '', /\{job="probes", target="eu:sessions"\}/);
  });

  it('exit 2 with the fix: an unknown --target, --job on another command, a bad config', async () => {
    const unknown = await runCli(['slo-spec', '--config', configPath, '--target', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no target "nope" in the config; its targets: orders, eu:sessions/);
    assert.equal(unknown.stdout, '');
    const misplaced = await runCli(['validate', '--config', configPath, '--job', 'probes']);
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--job belongs to slo-spec, not validate/);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'targets:\n  - { name: x }\n');
    const invalid = await runCli(['slo-spec', '--config', bad]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /host/);
  });
});
