import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import {
  AZURE_MAX_RULES_PER_GROUP,
  AZURE_SEVERITY,
  BICEP_FILE,
  DEFAULT_PARAMETERS,
  PROMETHEUS_RULE_FILE,
  applyParameters,
  bicepString,
  durationSeconds,
  generatedFiles,
  isoDuration,
  oneLineExpr,
  parseArgs,
  parseRulesFile,
  renderBicep,
} from '../../scripts/gen-rules.ts';
import type { RuleParameters } from '../../scripts/gen-rules.ts';
import type { Rule, RuleGroup } from '../../scripts/gen-rules.ts';
import { loadYamlDocs, validateObject } from './manifests.ts';
import type { K8sObject } from './manifests.ts';
import { knownSeriesNames, selectedMetricNames } from './metric-contract.ts';
import { runPromtool } from './promtool.ts';
import { attemptsExpr, failuresExpr, maintenanceEventsExpr } from '../../src/sla/sli-queries.ts';
import { REPO_ROOT, RULES_FILE, RULE_TESTS_DIR, RUNBOOK_FILE } from './paths.ts';
import { markdownAnchors } from './markdown.ts';

/** The severities kube-prometheus' Alertmanager routes and inhibition rules use. */
const SEVERITIES = ['critical', 'warning', 'info'];
const rulesText = readFileSync(RULES_FILE, 'utf8');
const groups = parseRulesFile(rulesText);
const allRules = groups.flatMap((g) => g.rules);
const recordings = allRules.filter((r): r is Extract<Rule, { record: string }> => 'record' in r);
const alerts = allRules.filter((r): r is Extract<Rule, { alert: string }> => 'alert' in r);
const recordedNames = new Set(recordings.map((r) => r.record));
const squash = (expr: string) => expr.replace(/\s+/g, ' ').trim();

let workDir: string;
before(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-rules-'));
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('rules: promtool', { timeout: 120_000 }, () => {
  it('promtool check rules accepts the rules file', () => {
    const { status, output } = runPromtool(['check', 'rules', RULES_FILE]);
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${allRules.length} rules found`));
  });

  it('promtool check rules accepts the groups of the generated PrometheusRule', () => {
    const [prometheusRule] = loadYamlDocs(PROMETHEUS_RULE_FILE) as K8sObject[];
    const extracted = path.join(workDir, 'from-prometheusrule.yml');
    writeFileSync(extracted, YAML.stringify({ groups: (prometheusRule!['spec'] as { groups: unknown }).groups }));
    const { status, output } = runPromtool(['check', 'rules', extracted]);
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${allRules.length} rules found`));
  });

  it('promtool test rules: every unit test in k8s/rules/tests passes', () => {
    const testFiles = readdirSync(RULE_TESTS_DIR).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(testFiles.length > 0);
    for (const file of testFiles) {
      const { status, output } = runPromtool(['test', 'rules', file], RULE_TESTS_DIR);
      assert.equal(status, 0, `${file}:\n${output}`);
      assert.match(output, /SUCCESS/);
    }
  });

  it('the unit tests bite: with a 90 % objective the burn-rate expectations fail', () => {
    const mutantDir = path.join(workDir, 'mutant');
    cpSync(path.dirname(RULES_FILE), mutantDir, { recursive: true });
    const mutantRules = path.join(mutantDir, path.basename(RULES_FILE));
    const original = readFileSync(mutantRules, 'utf8');
    const objective = 'max by (target, location) (redis_probe_sla_objective{job="redis-probe"})';
    assert.ok(original.includes(objective));
    writeFileSync(mutantRules, original.replace(objective, `0 * ${objective} + 0.9`));
    const { status, output } = runPromtool(['test', 'rules', 'redis-probe.test.yml'], path.join(mutantDir, 'tests'));
    assert.notEqual(status, 0, output);
    assert.match(output, /RedisProbeErrorBudgetBurn|error_budget_burn/);
  });
});

describe('rules: generated forms', { timeout: 30_000 }, () => {
  it('the PrometheusRule and the Bicep file are up to date (node scripts/gen-rules.ts)', () => {
    for (const { file, content } of generatedFiles()) {
      assert.equal(readFileSync(file, 'utf8'), content, `${file} is stale: run node scripts/gen-rules.ts`);
    }
  });

  it('the PrometheusRule carries exactly the groups of the rules file and validates', () => {
    const [prometheusRule] = loadYamlDocs(PROMETHEUS_RULE_FILE) as K8sObject[];
    validateObject(prometheusRule!);
    assert.deepEqual((prometheusRule!['spec'] as { groups: RuleGroup[] }).groups, (YAML.parse(rulesText) as { groups: unknown }).groups);
  });

  it('the Bicep rule groups are one for one with the PrometheusRule: rules, expressions, durations, severities, labels, annotations', () => {
    const [prometheusRule] = loadYamlDocs(PROMETHEUS_RULE_FILE) as K8sObject[];
    const ruleGroups = (prometheusRule!['spec'] as { groups: RuleGroup[] }).groups;
    assertBicepMatches(readFileSync(BICEP_FILE, 'utf8'), ruleGroups);
  });

  it('with other parameters, the Bicep defaults and the rules change together and stay one for one', () => {
    const params: RuleParameters = {
      routingLabels: ['team', 'env', 'cost_center'],
      quorum: 3,
      runbookUrl: 'https://git.example.com/ops/redis-probe/blob/v2/docs/runbook.md',
      dashboardUrl: 'https://grafana.example.com/d/redis-probe/redis-probe',
    };
    const custom = parseRulesFile(applyParameters(rulesText, params));
    const bicep = renderBicep(rulesText, params);
    assert.match(bicep, /^param routingLabels array = \['team', 'env', 'cost_center'\]$/m);
    assert.match(bicep, /^param quorum int = 3$/m);
    assertBicepMatches(bicep, custom);
    const customAlerts = custom.flatMap((g) => g.rules).filter((r): r is Extract<Rule, { alert: string }> => 'alert' in r);
    for (const alert of customAlerts) {
      assert.ok(alert.annotations?.['runbook_url']?.startsWith(`${params.runbookUrl}#`), `${alert.alert}: ${alert.annotations?.['runbook_url']}`);
      assert.ok(alert.annotations?.['dashboard_url']?.startsWith(params.dashboardUrl), `${alert.alert}: ${alert.annotations?.['dashboard_url']}`);
      assert.doesNotMatch(alert.expr, /group_left \(team, env\)/);
    }
  });

  it('Bicep string literals round-trip any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const literal = bicepString(text);
        assert.ok(literal.startsWith("'") && literal.endsWith("'"));
        const body = literal.slice(1, -1);
        assert.doesNotMatch(body, /(^|[^\\])(\\\\)*'/, 'no unescaped quote');
        assert.doesNotMatch(body, /[\n\r]/);
        assert.doesNotMatch(body, /(^|[^\\])(\\\\)*\$\{/, 'no interpolation');
        assert.equal(bicepUnescape(body), text);
      }),
    );
  });

  it('durations convert to ISO 8601', () => {
    assert.equal(isoDuration('2m'), 'PT2M');
    assert.equal(isoDuration('1h'), 'PT1H');
    assert.equal(isoDuration('1h30m'), 'PT1H30M');
    assert.equal(isoDuration('3d'), 'P3D');
    assert.equal(isoDuration('90s'), 'PT1M30S');
    assert.equal(durationSeconds('1w'), 7 * 86400);
    assert.throws(() => durationSeconds('5 minutes'), /not a Prometheus duration/);
    assert.equal(oneLineExpr('a\n  or\n  b\n'), 'a or b');
  });
});

describe('rules: parameters (node scripts/gen-rules.ts --out DIR ...)', { timeout: 120_000 }, () => {
  it('routing labels and quorum reach the alerts: promtool runs a unit test against the rules written with them', () => {
    const dir = path.join(workDir, 'custom');
    cpSync(path.dirname(RULES_FILE), dir, { recursive: true });
    const params: RuleParameters = { ...DEFAULT_PARAMETERS, routingLabels: ['cost_center'], quorum: 3 };
    writeFileSync(path.join(dir, path.basename(RULES_FILE)), applyParameters(rulesText, params));
    const info = (location: string) =>
      `redis_probe_target_info{job="redis-probe", instance="${location}:9637", location="${location}", target="orders", team="payments", cost_center="cc-42"}`;
    const success = (location: string, values: string) => ({
      series: `redis_probe_success{job="redis-probe", instance="${location}:9637", location="${location}", target="orders"}`,
      values,
    });
    const test = {
      rule_files: [`../${path.basename(RULES_FILE)}`],
      evaluation_interval: '1m',
      tests: [
        {
          name: 'quorum 3: two regions of three down is a warning per region; routing label cost_center only',
          interval: '1m',
          input_series: [
            success('westeurope', '0x15'),
            success('eastus', '0x15'),
            success('southeastasia', '1x15'),
            { series: info('westeurope'), values: '1x15' },
          ],
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: 'RedisProbeTargetDown',
              exp_alerts: ['westeurope', 'eastus'].map((location) => ({
                exp_labels: { severity: 'warning', target: 'orders', location, cost_center: 'cc-42' },
                exp_annotations: {
                  summary: `Redis target orders fails every probe from ${location} only`,
                  description: `Every probe cycle of orders from ${location} has failed for at least 3 minutes, but fewer probe locations than the quorum see it down: look at this location's network path before the cache.`,
                  runbook_url: 'docs/runbook.md#redisprobetargetdown',
                  dashboard_url: 'k8s/grafana/redis-probe-dashboard.json?var-target=orders',
                },
              })),
            },
          ],
        },
      ],
    };
    writeFileSync(path.join(dir, 'tests', 'custom.test.yml'), YAML.stringify(test));
    const { status, output } = runPromtool(['test', 'rules', 'custom.test.yml'], path.join(dir, 'tests'));
    assert.equal(status, 0, output);
  });

  it('the command line takes the parameters, needs --out for them, and names the option and the fix on a bad value', () => {
    assert.deepEqual(parseArgs([]), { check: false, outDir: undefined, params: DEFAULT_PARAMETERS });
    assert.deepEqual(parseArgs(['--check']).check, true);
    const parsed = parseArgs([
      '--out',
      'x',
      '--quorum=3',
      '--routing-labels',
      'team, cost_center',
      '--runbook-url',
      'https://w/r.md',
      '--dashboard-url=https://g/d/redis-probe',
    ]);
    assert.deepEqual(parsed, {
      check: false,
      outDir: 'x',
      params: { quorum: 3, routingLabels: ['team', 'cost_center'], runbookUrl: 'https://w/r.md', dashboardUrl: 'https://g/d/redis-probe' },
    });
    assert.throws(() => parseArgs(['--quorum', '3']), /need --out DIR/);
    assert.throws(() => parseArgs(['--out', 'x', '--quorum', '0']), /--quorum: must be a whole number of locations, 1 or more/);
    assert.throws(() => parseArgs(['--out', 'x', '--quorum', 'two']), /--quorum/);
    assert.throws(() => parseArgs(['--out', 'x', '--routing-labels', 'team,9lives']), /--routing-labels: "9lives" is not a Prometheus label name/);
    assert.throws(() => parseArgs(['--out', 'x', '--routing-labels', 'location']), /--routing-labels: location is set by the rules themselves/);
    assert.throws(() => parseArgs(['--out', 'x', '--runbook-url', 'https://w/r.md#top']), /--runbook-url: .* without .*'#'/);
    assert.throws(() => parseArgs(['--out', 'x', '--dashboard-url', 'https://g/d?orgId=1']), /--dashboard-url/);
    assert.throws(() => parseArgs(['--quorom', '3']), /unknown option --quorom: use --check, --out DIR, --quorum N/);
    assert.throws(() => parseArgs(['--check', '--out', 'x']), /drop --out/);
  });

  it('--out writes the rules file and both forms with the parameters; the repository files are untouched', () => {
    const out = path.join(workDir, 'out');
    const params: RuleParameters = { ...DEFAULT_PARAMETERS, quorum: 3 };
    const files = generatedFiles(params, out);
    assert.deepEqual(
      files.map((f) => path.relative(out, f.file)),
      ['redis-probe.rules.yml', 'prometheus-rule.yaml', 'rule-groups.bicep'],
    );
    assert.match(files[0]!.content, /redis_probe_success\{job="redis-probe"\}\)\), 3\)/);
    assert.match(files[2]!.content, /^param quorum int = 3$/m);
    for (const { file, content } of generatedFiles()) assert.equal(readFileSync(file, 'utf8'), content);
  });
});

describe('rules: content', { timeout: 30_000 }, () => {
  it('fits Azure Monitor: at most 20 rules per group, intervals of 1 to 15 minutes', () => {
    for (const group of groups) {
      assert.ok(group.rules.length <= AZURE_MAX_RULES_PER_GROUP, `${group.name}: ${group.rules.length} rules`);
      const interval = durationSeconds(group.interval ?? '1m');
      assert.ok(interval >= 60 && interval <= 900, `${group.name}: interval ${group.interval}`);
    }
  });

  it('records availability and error ratios over 5m, 30m, 1h, 2h, 6h, 1d, 3d and 30d, and burn rates', () => {
    for (const window of ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d']) {
      for (const name of [
        `redis_probe:availability:ratio_rate${window}`,
        `redis_probe:error:ratio_rate${window}`,
        `redis_probe:error_budget_burn:rate${window}`,
      ]) {
        assert.ok(recordedNames.has(name), `missing recording rule ${name}`);
      }
    }
    assert.ok(recordedNames.has('redis_probe:availability_excl_maintenance:ratio_rate30d'));
    assert.ok(recordedNames.has('redis_probe:latency_sli:ratio_rate5m'));
    // Ratios never divide by a zero cycle count.
    for (const rule of recordings.filter((r) => r.record.includes('ratio_rate') && r.expr.includes('/'))) {
      assert.match(squash(rule.expr), /\/ \(.*> 0\)/, `${rule.record} guards its denominator`);
    }
  });

  it("each target's objective comes from redis_probe_sla_objective through one rule; burn rates and alerts derive from it", () => {
    const objectiveRules = recordings.filter((r) => r.expr.includes('redis_probe_sla_objective'));
    assert.deepEqual(
      objectiveRules.map((r) => r.record),
      ['redis_probe:slo_objective:ratio'],
    );
    assert.equal(recordings.find((r) => r.record === 'redis_probe:slo_error_budget:ratio')?.expr, '1 - redis_probe:slo_objective:ratio');
    for (const rule of recordings.filter((r) => r.record.startsWith('redis_probe:error_budget_burn:'))) {
      assert.match(rule.expr, /\/ on \(target, location\) redis_probe:slo_error_budget:ratio$/);
    }
    for (const rule of allRules) {
      assert.doesNotMatch(rule.expr, /vector\(|0\.999|0\.001/, `${'record' in rule ? rule.record : rule.alert} hard-codes an objective`);
    }
  });

  it('the minute-based SLA rules record exactly the expressions `redis-probe sla` evaluates (src/sla/sli-queries.ts)', () => {
    const selector = { job: 'redis-probe', by: ['target', 'location'] };
    const exprOf = (record: string) => squash(recordings.find((r) => r.record === record)?.expr ?? `(no rule ${record})`);
    assert.equal(exprOf('redis_probe:sla_attempts:1m'), attemptsExpr(selector));
    assert.equal(exprOf('redis_probe:sla_failures:1m'), `${failuresExpr(selector)} or 0 * redis_probe:sla_attempts:1m`);
    assert.equal(
      exprOf('redis_probe:sla_minute_down:1m'),
      '(redis_probe:sla_failures:1m >= bool redis_probe:sla_attempts:1m) and redis_probe:sla_attempts:1m > 0',
    );
    assert.equal(exprOf('redis_probe:maintenance_events:1m'), maintenanceEventsExpr(selector));
    const group = groups.find((g) => g.rules.some((r) => 'record' in r && r.record === 'redis_probe:sla_minute_down:1m'));
    assert.equal(group?.interval, '1m', 'one sample a minute: each sample is one minute of the SLA');
  });

  it('multi-window multi-burn-rate alerts follow the SRE workbook: 14.4x and 6x page from the quorum, warn below it; 3x and 1x warn', () => {
    const burn = alerts.filter((a) => a.alert === 'RedisProbeErrorBudgetBurn');
    const shape = burn.map((a) => {
      const expr = squash(a.expr);
      const pairs = [...expr.matchAll(/redis_probe:error_budget_burn:rate(\w+) > ([\d.]+) and redis_probe:error_budget_burn:rate(\w+) > ([\d.]+)/g)];
      assert.ok(pairs.length > 0, `unexpected burn-rate expression: ${expr}`);
      const [, long, factor, short, shortFactor] = pairs[0]!;
      for (const pair of pairs) assert.deepEqual(pair.slice(1), [long, factor, short, shortFactor], `${expr}: one window pair per alert`);
      assert.equal(factor, shortFactor);
      assert.equal(a.labels?.['long_window'], long);
      assert.equal(a.labels?.['short_window'], short);
      const quorum = expr.includes('>= on (target) redis_probe:location_quorum:count');
      const kind = !quorum ? 'per location' : expr.includes('unless on (target)') ? 'below quorum' : 'quorum';
      return `${long}/${short} ${factor} ${a.labels?.['severity']} ${kind}`;
    });
    assert.deepEqual(shape, [
      '1h/5m 14.4 critical quorum',
      '1h/5m 14.4 warning below quorum',
      '6h/30m 6 critical quorum',
      '6h/30m 6 warning below quorum',
      '1d/2h 3 warning per location',
      '3d/6h 1 warning per location',
    ]);
  });

  it('only the quorum alerts page: every other alert about a target is a warning or info', () => {
    const critical = alerts.filter((a) => a.labels?.['severity'] === 'critical').map((a) => a.alert);
    assert.deepEqual(critical, ['RedisProbeErrorBudgetBurn', 'RedisProbeErrorBudgetBurn', 'RedisProbeTargetDown', 'RedisProbeAbsent', 'RedisProbeScrapeDown']);
    for (const alert of alerts.filter((a) => a.labels?.['severity'] === 'critical' && /\btarget\b/.test(a.expr))) {
      assert.match(
        squash(alert.expr),
        /^\(.* >= on \(target\) redis_probe:location_quorum:count \)? ?\) \* on \(target\) group_left/,
        `${alert.alert}: a page needs the quorum`,
      );
    }
  });

  it('has the plain alerts', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const name of [
      'RedisProbeTargetDown',
      'RedisProbeNoRecentSuccess',
      'RedisProbeTokenExpiringSoon',
      'RedisProbeTokenRefreshFailing',
      'RedisProbeTlsCertExpiringSoon',
      'RedisProbeAbsent',
      'RedisProbeScrapeDown',
      'RedisProbeCyclesSkipped',
      'RedisProbeConfigReloadFailed',
    ]) {
      assert.ok(names.has(name), `missing alert ${name}`);
    }
  });

  it('every alert has a severity, a summary, a description, a runbook_url whose anchor exists and a dashboard_url to a file', () => {
    const anchors = markdownAnchors(readFileSync(RUNBOOK_FILE, 'utf8'));
    for (const alert of alerts) {
      assert.ok(SEVERITIES.includes(alert.labels?.['severity'] ?? ''), `${alert.alert}: severity ${alert.labels?.['severity']}`);
      assert.ok(AZURE_SEVERITY[alert.labels!['severity']!] !== undefined, `${alert.alert}: no Azure severity`);
      assert.ok(alert.annotations?.['summary'], `${alert.alert}: summary`);
      assert.ok(alert.annotations?.['description'], `${alert.alert}: description`);
      const url = alert.annotations?.['runbook_url'] ?? '';
      assert.ok(url.startsWith(`${DEFAULT_PARAMETERS.runbookUrl}#`), `${alert.alert}: runbook_url ${url}`);
      assert.ok(existsSync(path.join(REPO_ROOT, DEFAULT_PARAMETERS.runbookUrl)));
      const anchor = url.slice(url.indexOf('#') + 1);
      assert.ok(anchors.has(anchor), `${alert.alert}: docs/runbook.md has no #${anchor}`);
      assert.equal(anchor, alert.alert.toLowerCase(), `${alert.alert}: one runbook section per alert`);
      const dashboard = alert.annotations?.['dashboard_url'] ?? '';
      const [file, query] = dashboard.split('?');
      assert.equal(file, DEFAULT_PARAMETERS.dashboardUrl, `${alert.alert}: dashboard_url ${dashboard}`);
      assert.ok(existsSync(path.join(REPO_ROOT, file)), `${alert.alert}: ${file} does not exist`);
      const aboutTarget = /\$labels\.target\b/.test(alert.annotations?.['summary'] ?? '');
      assert.equal(query, aboutTarget ? 'var-target={{ $labels.target }}' : undefined, `${alert.alert}: dashboard_url query`);
    }
  });

  it('every alert about a target carries its routing labels (team, env) through redis_probe:target_routing:info', () => {
    const routing = recordings.find((r) => r.record === 'redis_probe:target_routing:info');
    assert.match(squash(routing?.expr ?? ''), /^max by \(target, team, env\) \( topk by \(target\) \(1, redis_probe_target_info\{job="redis-probe"\}/);
    for (const alert of alerts.filter((a) => /\$labels\.target\b/.test(a.annotations?.['summary'] ?? ''))) {
      assert.match(squash(alert.expr), /\* on \(target\) group_left \(team, env\) redis_probe:target_routing:info$/, `${alert.alert}: routing labels`);
    }
  });

  it('every raw selector carries job="redis-probe"; every series name is in the metric contract or recorded', () => {
    const known = knownSeriesNames();
    for (const rule of allRules) {
      const name = 'record' in rule ? rule.record : rule.alert;
      for (const metric of selectedMetricNames(rule.expr)) {
        if (metric.includes(':')) {
          assert.ok(recordedNames.has(metric), `${name}: ${metric} is not recorded by any rule`);
          continue;
        }
        assert.ok(known.has(metric), `${name}: ${metric} is not in the metric contract`);
        for (const selector of rule.expr.matchAll(new RegExp(`\\b${metric}\\b(\\{[^}]*\\})?`, 'g'))) {
          assert.match(selector[1] ?? '', /job="redis-probe"/, `${name}: ${selector[0]} lacks job="redis-probe"`);
        }
      }
    }
  });
});

/** What the Bicep file says about one rule. */
interface BicepRule {
  kind: 'record' | 'alert';
  name: string;
  expression: string;
  for: string | undefined;
  severity: number | undefined;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

/** Undoes Bicep single-quoted string escapes (written independently of gen-rules.ts). */
function bicepUnescape(body: string): string {
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };
  return body.replace(/\\(?:u\{([0-9A-Fa-f]+)\}|(.))/gs, (whole, hex: string | undefined, ch: string | undefined) => {
    if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex, 16));
    const out = simple[ch!];
    if (out === undefined) throw new Error(`invalid Bicep escape ${whole}`);
    return out;
  });
}

/** Rule groups of the generated Bicep, read line by line; `text` turns a string literal's body into its value. */
function parseBicepRuleGroups(bicep: string, text: (body: string) => string = bicepUnescape): { name: string; interval: string; rules: BicepRule[] }[] {
  const result: { name: string; interval: string; rules: BicepRule[] }[] = [];
  // A string literal; an interpolation inside it may hold quotes of its own.
  const str = String.raw`'((?:[^'\\$]|\\.|\$\{[^}]*\}|\$(?!\{))*)'`;
  let map: 'labels' | 'annotations' | undefined;
  for (const line of bicep.split('\n')) {
    let m: RegExpExecArray | null;
    const rule = () => result.at(-1)!.rules.at(-1)!;
    if (map !== undefined) {
      if (line === '        }') map = undefined;
      else if ((m = new RegExp(`^ {10}(?:([A-Za-z_][A-Za-z0-9_]*)|${str}): ${str}$`).exec(line))) {
        rule()[map]![m[1] ?? text(m[2]!)] = text(m[3]!);
      } else throw new Error(`unexpected line in ${map}: ${line}`);
    } else if ((m = new RegExp(`^  name: ${str}$`).exec(line))) {
      result.push({ name: bicepUnescape(m[1]!.replace('${nameSuffix}', '')), interval: '', rules: [] });
    } else if ((m = new RegExp(`^    interval: ${str}$`).exec(line))) {
      result.at(-1)!.interval = bicepUnescape(m[1]!);
    } else if ((m = new RegExp(`^        (record|alert): ${str}$`).exec(line))) {
      result.at(-1)!.rules.push({
        kind: m[1] as 'record' | 'alert',
        name: bicepUnescape(m[2]!),
        expression: '',
        for: undefined,
        severity: undefined,
        labels: undefined,
        annotations: undefined,
      });
    } else if ((m = new RegExp(`^        expression: ${str}$`).exec(line))) {
      rule().expression = text(m[1]!);
    } else if ((m = new RegExp(`^        for: ${str}$`).exec(line))) {
      rule().for = bicepUnescape(m[1]!);
    } else if ((m = /^ {8}severity: (\d)$/.exec(line))) {
      rule().severity = Number(m[1]);
    } else if ((m = /^ {8}(labels|annotations): \{$/.exec(line))) {
      map = m[1] as 'labels' | 'annotations';
      rule()[map] = {};
    }
  }
  return result;
}

/** The Bicep file's parameter defaults, read from its `param` lines. */
function bicepParamDefaults(bicep: string): { routingLabels: string[]; quorum: string; runbookUrl: string; dashboardUrl: string } {
  const str = String.raw`'((?:[^'\\]|\\.)*)'`;
  const value = (pattern: RegExp): string => {
    const m = pattern.exec(bicep);
    assert.ok(m, `no ${pattern.source}`);
    return m[1]!;
  };
  return {
    routingLabels: [...value(/^param routingLabels array = \[(.*)\]$/m).matchAll(new RegExp(str, 'g'))].map((m) => bicepUnescape(m[1]!)),
    quorum: value(/^param quorum int = (\d+)$/m),
    runbookUrl: bicepUnescape(value(new RegExp(`^param runbookUrl string = ${str}$`, 'm'))),
    dashboardUrl: bicepUnescape(value(new RegExp(`^param dashboardUrl string = ${str}$`, 'm'))),
  };
}

/** A Bicep string body with its `${...}` interpolations evaluated against the parameter defaults. */
function bicepEvaluate(body: string, params: ReturnType<typeof bicepParamDefaults>): string {
  const known: Record<string, string> = {
    runbookUrl: params.runbookUrl,
    dashboardUrl: params.dashboardUrl,
    quorum: params.quorum,
    "join(routingLabels, ', ')": params.routingLabels.join(', '),
    "join(concat(['target'], routingLabels), ', ')": ['target', ...params.routingLabels].join(', '),
  };
  const evaluated = body.replace(/(?<!\\)\$\{([^}]*)\}/g, (whole, inner: string) => {
    const out = known[inner];
    if (out === undefined) throw new Error(`unexpected Bicep interpolation ${whole}`);
    return out;
  });
  return bicepUnescape(evaluated);
}

/** Asserts that the Bicep rule groups say what `expected` says, rule by rule. */
function assertBicepMatches(bicep: string, expected: readonly RuleGroup[]): void {
  const params = bicepParamDefaults(bicep);
  const parsed = parseBicepRuleGroups(bicep, (body) => bicepEvaluate(body, params));
  assert.deepEqual(
    parsed.map((g) => g.name),
    expected.map((g) => g.name),
  );
  for (const [i, group] of expected.entries()) {
    const azure = parsed[i]!;
    assert.ok(azure.rules.length <= AZURE_MAX_RULES_PER_GROUP);
    assert.equal(azure.interval, isoDuration(group.interval ?? '1m'));
    assert.deepEqual(
      azure.rules.map((r) => ({ ...r, expression: squash(r.expression) })),
      group.rules.map((rule) => ({
        kind: 'record' in rule ? 'record' : 'alert',
        name: 'record' in rule ? rule.record : rule.alert,
        expression: squash(rule.expr),
        for: 'for' in rule && rule.for !== undefined ? isoDuration(rule.for) : undefined,
        severity: 'alert' in rule ? AZURE_SEVERITY[rule.labels!['severity']!] : undefined,
        labels: rule.labels,
        annotations: 'annotations' in rule ? rule.annotations : undefined,
      })),
      `group ${group.name}`,
    );
  }
}
