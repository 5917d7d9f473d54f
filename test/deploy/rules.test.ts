import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import {
  AZURE_MAX_RULES_PER_GROUP,
  AZURE_SEVERITY,
  BICEP_FILE,
  PROMETHEUS_RULE_FILE,
  bicepString,
  durationSeconds,
  generatedFiles,
  isoDuration,
  oneLineExpr,
  parseRulesFile,
} from '../../scripts/gen-rules.ts';
import type { Rule, RuleGroup } from '../../scripts/gen-rules.ts';
import { loadYamlDocs, validateObject } from './manifests.ts';
import type { K8sObject } from './manifests.ts';
import { knownSeriesNames, selectedMetricNames } from './metric-contract.ts';
import { runPromtool } from './promtool.ts';
import { attemptsExpr, failuresExpr } from '../../src/sla/sli-queries.ts';
import { RULES_FILE, RULE_TESTS_DIR, RUNBOOK_FILE } from './paths.ts';
import { markdownAnchors } from './markdown.ts';

const RUNBOOK_URL = 'https://github.com/redis-probe/redis-probe/blob/main/docs/runbook.md';
const SEVERITIES = ['page', 'ticket', 'warning'];
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

  it('the Bicep rule groups carry the same rules, expressions, durations and severities', () => {
    const bicep = readFileSync(BICEP_FILE, 'utf8');
    const parsed = parseBicepRuleGroups(bicep);
    assert.deepEqual(
      parsed.map((g) => g.name),
      groups.map((g) => g.name),
    );
    for (const [i, group] of groups.entries()) {
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
        })),
      );
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
      for (const name of [`redis_probe:availability:ratio_rate${window}`, `redis_probe:error:ratio_rate${window}`, `redis_probe:error_budget_burn:rate${window}`]) {
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
    assert.deepEqual(objectiveRules.map((r) => r.record), ['redis_probe:slo_objective:ratio']);
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
    const group = groups.find((g) => g.rules.some((r) => 'record' in r && r.record === 'redis_probe:sla_minute_down:1m'));
    assert.equal(group?.interval, '1m', 'one sample a minute: each sample is one minute of the SLA');
  });

  it('multi-window multi-burn-rate alerts follow the SRE workbook (14.4x, 6x page; 3x, 1x ticket)', () => {
    const burn = alerts.filter((a) => a.alert === 'RedisProbeErrorBudgetBurn');
    const shape = burn.map((a) => {
      const expr = squash(a.expr);
      const match = /^redis_probe:error_budget_burn:rate(\w+) > ([\d.]+) and redis_probe:error_budget_burn:rate(\w+) > ([\d.]+)$/.exec(expr);
      assert.ok(match, `unexpected burn-rate expression: ${expr}`);
      assert.equal(match[2], match[4]);
      assert.equal(a.labels?.['long_window'], match[1]);
      assert.equal(a.labels?.['short_window'], match[3]);
      return `${match[1]}/${match[3]} ${match[2]} ${a.labels?.['severity']}`;
    });
    assert.deepEqual(shape, ['1h/5m 14.4 page', '6h/30m 6 page', '1d/2h 3 ticket', '3d/6h 1 ticket']);
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

  it('every alert has a severity, a summary, a description and a runbook_url whose anchor exists', () => {
    const anchors = markdownAnchors(readFileSync(RUNBOOK_FILE, 'utf8'));
    for (const alert of alerts) {
      assert.ok(SEVERITIES.includes(alert.labels?.['severity'] ?? ''), `${alert.alert}: severity`);
      assert.ok(alert.annotations?.['summary'], `${alert.alert}: summary`);
      assert.ok(alert.annotations?.['description'], `${alert.alert}: description`);
      const url = alert.annotations?.['runbook_url'] ?? '';
      assert.ok(url.startsWith(`${RUNBOOK_URL}#`), `${alert.alert}: runbook_url ${url}`);
      const anchor = url.slice(url.indexOf('#') + 1);
      assert.ok(anchors.has(anchor), `${alert.alert}: docs/runbook.md has no #${anchor}`);
      assert.equal(anchor, alert.alert.toLowerCase(), `${alert.alert}: one runbook section per alert`);
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

/** Rule groups of the generated Bicep, read line by line. */
function parseBicepRuleGroups(bicep: string): { name: string; interval: string; rules: BicepRule[] }[] {
  const result: { name: string; interval: string; rules: BicepRule[] }[] = [];
  const str = String.raw`'((?:[^'\\]|\\.)*)'`;
  for (const line of bicep.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^  name: ${str}$`).exec(line))) {
      result.push({ name: bicepUnescape(m[1]!).replace('${nameSuffix}', ''), interval: '', rules: [] });
    } else if ((m = new RegExp(`^    interval: ${str}$`).exec(line))) {
      result.at(-1)!.interval = bicepUnescape(m[1]!);
    } else if ((m = new RegExp(`^        (record|alert): ${str}$`).exec(line))) {
      result.at(-1)!.rules.push({ kind: m[1] as 'record' | 'alert', name: bicepUnescape(m[2]!), expression: '', for: undefined, severity: undefined });
    } else if ((m = new RegExp(`^        expression: ${str}$`).exec(line))) {
      result.at(-1)!.rules.at(-1)!.expression = bicepUnescape(m[1]!);
    } else if ((m = new RegExp(`^        for: ${str}$`).exec(line))) {
      result.at(-1)!.rules.at(-1)!.for = bicepUnescape(m[1]!);
    } else if ((m = /^ {8}severity: (\d)$/.exec(line))) {
      result.at(-1)!.rules.at(-1)!.severity = Number(m[1]);
    }
  }
  return result;
}
