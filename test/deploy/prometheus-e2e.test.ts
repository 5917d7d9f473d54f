/**
 * Issue 4, live: three real redis-servers, the built daemon (`node dist/cli.js run`) probing them
 * every second, and a real Prometheus scraping it as job "redis-probe" and evaluating
 * k8s/rules/redis-probe.rules.yml. Every recording rule, alert expression and dashboard expression
 * is run through Prometheus' HTTP API; then one redis is killed and the SLO series and alerts
 * must react for that target only.
 *
 * The one deliberate change to the rules: every group's `interval` (1m/5m in the file, for Azure
 * Monitor's limits) is rewritten to 1s in a temporary copy. Prometheus evaluates a group first
 * at a hash-derived offset within its interval, so the file as it is would need up to 5 minutes
 * before the long-window group runs once. Expressions, `for`, labels and annotations are
 * unchanged; the intervals themselves are checked offline by rules.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess, ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseRulesFile } from '../../scripts/gen-rules.ts';
import type { Rule } from '../../scripts/gen-rules.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { freePort } from '../support/free-port.ts';
import { killWithParent, NEVER_EVALUATED, startPrometheus } from '../support/prometheus-server.ts';
import type { PromApiAlert, PromSample, PrometheusServer } from '../support/prometheus-server.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { delay } from '../support/wait.ts';
import { dashboardExprs } from './dashboard-exprs.ts';
import type { DashboardExpr } from './dashboard-exprs.ts';
import { RULES_FILE } from './paths.ts';

const JOB = 'redis-probe';
/** alpha and charlie stay healthy; bravo is killed; charlie is put "in planned maintenance". */
const TARGETS = ['alpha', 'bravo', 'charlie'] as const;
type TargetName = (typeof TARGETS)[number];
const KILLED: TargetName = 'bravo';
/** bravo's `labels`: the alerts about it must carry them (routing). */
const KILLED_ROUTING_LABELS = { team: 'payments', env: 'prod' } as const;
const IN_MAINTENANCE: TargetName = 'charlie';
const MAINTENANCE_STARTING = 'NotificationType|NodeMaintenanceStarting|StartTimeInUTC|2025-01-01T00:00:00|IsReplica|False';
/** Sent when bravo is killed, so the "Maintenance events" panel (notifications of the last minute) has data then too. */
const MAINTENANCE_START = 'NotificationType|NodeMaintenanceStart|StartTimeInUTC|2025-01-01T00:00:00|IsReplica|False';

const WARM_UP_TIMEOUT_MS = 40_000;
const OUTAGE_TIMEOUT_MS = 30_000;

const groups = parseRulesFile(readFileSync(RULES_FILE, 'utf8'));
const rules = groups.flatMap((g) => g.rules);
const recordings = rules.filter((r): r is Extract<Rule, { record: string }> => 'record' in r);
const alertRules = rules.filter((r): r is Extract<Rule, { alert: string }> => 'alert' in r);
const alertLabel = (rule: Extract<Rule, { alert: string }>): string =>
  `${rule.alert}${rule.labels?.['long_window'] ? ` (${rule.labels['long_window']}/${rule.labels['short_window'] ?? '?'})` : ''}`;

/** Recording rules whose series exist for some targets only in this setup. */
const PARTIAL_RECORDINGS: Readonly<Record<string, { readonly targets: readonly TargetName[]; readonly exact: boolean; readonly why: string }>> = {
  'redis_probe:cycles_excl_maintenance:rate5m': {
    targets: ['alpha', 'bravo'],
    exact: true,
    why: `${IN_MAINTENANCE} is in announced maintenance, so its 5m windows are dropped`,
  },
  'redis_probe:cycle_failures_excl_maintenance:rate5m': {
    targets: ['alpha', 'bravo'],
    exact: true,
    why: `${IN_MAINTENANCE} is in announced maintenance, so its 5m windows are dropped`,
  },
  'redis_probe:maintenance_events:1m': {
    targets: [IN_MAINTENANCE],
    exact: true,
    why: `only ${IN_MAINTENANCE} receives maintenance notifications, and only minutes with one are recorded`,
  },
  'redis_probe:availability_excl_maintenance:ratio_rate30d': {
    targets: ['alpha', 'bravo'],
    exact: false,
    why: `${IN_MAINTENANCE} keeps a value only if its excl. series was recorded before the maintenance event (timing)`,
  },
};

/** Why a dashboard expression has no data here; `absentMetric` must indeed have no sample on /metrics. */
interface NoData {
  readonly why: string;
  readonly absentMetric?: string;
}
const NO_ENTRA: NoData = { why: 'no Entra credential is configured, so the daemon exports no token series' };
const NO_DATA_ALWAYS: Readonly<Record<string, NoData>> = {
  'Entra token expires in/A': { ...NO_ENTRA, absentMetric: 'redis_probe_token_expiry_timestamp_seconds' },
  'Token refreshes/A': { ...NO_ENTRA, absentMetric: 'redis_probe_token_refreshes_total' },
  'Token refresh duration p99/A': { ...NO_ENTRA, absentMetric: 'redis_probe_token_refresh_duration_seconds_bucket' },
  'Step latency p99/A': {
    why: "metrics.detail is standard (the default), which exports each step's sum and count but no buckets",
    absentMetric: 'redis_probe_step_duration_seconds_bucket',
  },
  'TLS certificate expires in/A': {
    why: 'TLS is off, so no server certificate is seen',
    absentMetric: 'redis_probe_tls_cert_expiry_timestamp_seconds',
  },
};
const NO_FAILURE_YET: NoData = { why: 'no cycle has failed yet and the panel shows only increases > 0' };
/** While every target is healthy. */
const NO_DATA_HEALTHY: Readonly<Record<string, NoData>> = {
  ...NO_DATA_ALWAYS,
  'Cycle failures by reason/A': NO_FAILURE_YET,
  'Cycle failures by step/A': NO_FAILURE_YET,
};
/** While bravo is down. */
const NO_DATA_OUTAGE: Readonly<Record<string, NoData>> = NO_DATA_ALWAYS;

const exprKey = (e: DashboardExpr): string => `${e.source}/${e.refId}`;
const targetsOf = (samples: readonly PromSample[]): string[] =>
  [...new Set(samples.map((s) => s.metric['target']).filter((t): t is string => t !== undefined))].sort();
const valueOf = (sample: PromSample | undefined): number => Number(sample?.value[1]);

const redis = new Map<TargetName, RedisServer>();
let workDir: string;
let daemon: ChildProcessWithoutNullStreams | undefined;
let daemonWatchdog: ChildProcess | undefined;
let daemonRun: Promise<CliRun> | undefined;
let daemonUrl: string;
let prometheus: PrometheusServer | undefined;

/** A rule reported an evaluation error: waiting longer cannot help. */
class RuleEvaluationError extends Error {
  override readonly name = 'RuleEvaluationError';
}

/**
 * Polls `check` until it reports nothing missing (undefined); on timeout fails with what was
 * still missing, which is the useful part of a failure here.
 */
async function waitUntil(what: string, timeoutMs: number, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let missing: string | undefined = 'not checked yet';
  while (performance.now() < deadline) {
    try {
      missing = await check();
    } catch (err) {
      if (err instanceof RuleEvaluationError) throw err;
      missing = err instanceof Error ? err.message : String(err);
    }
    if (missing === undefined) return;
    await delay(500);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${missing}`);
}

/** Recording rules that have no series yet (or lack an expected target), as text; undefined when none. */
async function recordingsMissingData(): Promise<string | undefined> {
  const problems: string[] = [];
  for (const rule of recordings) {
    const samples = await prometheus!.vector(rule.record);
    const partial = PARTIAL_RECORDINGS[rule.record];
    const got = targetsOf(samples);
    if (samples.length === 0) problems.push(`${rule.record}: no data`);
    else if (partial && partial.exact && got.join() !== [...partial.targets].sort().join()) {
      problems.push(`${rule.record}: targets ${got.join()}, want ${partial.targets.join()} (${partial.why})`);
    } else if (got.length > 0 && !(partial ?? { targets: TARGETS }).targets.every((t) => got.includes(t))) {
      problems.push(`${rule.record}: targets ${got.join()}`);
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

/** Dashboard expressions whose emptiness differs from `noData`, as text; undefined when all match. */
async function dashboardMismatches(noData: Readonly<Record<string, NoData>>): Promise<string | undefined> {
  const problems: string[] = [];
  for (const e of dashboardExprs()) {
    const answer = await prometheus!.query(e.expr);
    if (answer.status !== 'success') {
      problems.push(`${exprKey(e)}: ${answer.errorType ?? ''} ${answer.error ?? ''} in ${e.expr}`);
      continue;
    }
    const result = answer.data?.result;
    const empty = Array.isArray(result) && result.length === 0;
    const expected = noData[exprKey(e)];
    if (expected === undefined && empty) problems.push(`${exprKey(e)}: no data from ${e.expr}`);
    if (expected !== undefined && !empty) problems.push(`${exprKey(e)}: listed as empty (${expected.why}) but returned ${JSON.stringify(result)}`);
  }
  return problems.length === 0 ? undefined : problems.join('\n');
}

async function daemonMetrics(): Promise<string> {
  return (await fetch(`${daemonUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

const hasSample = (text: string, metric: string): boolean => text.split('\n').some((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `));

async function activeAlerts(): Promise<PromApiAlert[]> {
  return prometheus!.alerts();
}

describe('live: the daemon scraped by a real Prometheus with k8s/rules and the Grafana dashboard', { timeout: 150_000 }, () => {
  before(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-e2e-'));
    const servers = await Promise.all(TARGETS.map(() => startRedis()));
    TARGETS.forEach((name, i) => redis.set(name, servers[i]!));

    const daemonPort = await freePort();
    daemonUrl = `http://127.0.0.1:${daemonPort}`;
    const configPath = path.join(workDir, 'config.yaml');
    writeFileSync(
      configPath,
      YAML.stringify({
        server: { host: '127.0.0.1', port: daemonPort, shutdownGrace: '1s' },
        log: { level: 'info', format: 'json' },
        defaults: { schedule: '* * * * * *', timeout: '1s', tls: { enabled: false } },
        targets: TARGETS.map((name) => ({
          name,
          host: '127.0.0.1',
          port: redis.get(name)!.port,
          ...(name === IN_MAINTENANCE ? { maintenanceEvents: true } : {}),
          ...(name === KILLED ? { labels: KILLED_ROUTING_LABELS } : {}),
        })),
      }),
    );
    daemon = spawnCli(['run', '--config', configPath]);
    if (daemon.pid !== undefined) daemonWatchdog = killWithParent(daemon.pid, workDir);
    daemonRun = collect(daemon, 150_000);
    await waitUntil('the daemon to be ready', 15_000, async () =>
      (await fetch(`${daemonUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200 ? undefined : 'not ready',
    );

    // The rules file as it is, but with every group evaluated each second (see the header).
    const rulesCopy = path.join(workDir, path.basename(RULES_FILE));
    const parsed = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { interval?: string }[] };
    for (const group of parsed.groups) group.interval = '1s';
    writeFileSync(rulesCopy, YAML.stringify(parsed, { lineWidth: 0 }));

    prometheus = await startPrometheus({
      scrapeConfigs: [{ job_name: JOB, static_configs: [{ targets: [`127.0.0.1:${daemonPort}`] }] }],
      ruleFiles: [rulesCopy],
    });

    // Announce maintenance only once Prometheus has scraped the target's maintenance gauge, so the
    // event counter appears in a later scrape, as it would on a long-running daemon (at the default
    // detail it has no zero sample before its first notification).
    const charlie = redis.get(IN_MAINTENANCE)!;
    await waitUntil('the maintenance subscription and a scrape of its gauge', 15_000, async () => {
      const scraped = await prometheus!.vector(`redis_probe_maintenance_in_progress{job="${JOB}", target="${IN_MAINTENANCE}"}`);
      const subscribers = await charlie.call('PUBSUB', 'NUMSUB', 'AzureRedisEvents');
      if (scraped.length === 0) return 'maintenance gauge not scraped yet';
      return Array.isArray(subscribers) && Number(subscribers[1]) >= 1 ? undefined : 'daemon not subscribed to AzureRedisEvents yet';
    });
    await charlie.call('PUBLISH', 'AzureRedisEvents', MAINTENANCE_STARTING);

    await waitUntil('up, every rule evaluated, and every recording rule with data', WARM_UP_TIMEOUT_MS, async () => {
      const up = await prometheus!.vector(`up{job="${JOB}"}`);
      if (valueOf(up[0]) !== 1) return `up{job="${JOB}"} is ${JSON.stringify(up)}`;
      const loaded = await prometheus!.ruleGroups();
      const failing = loaded.flatMap((g) => g.rules.filter((r) => r.health === 'err').map((r) => `${g.name}/${r.name}: ${r.lastError ?? ''}`));
      // An evaluation error does not go away by waiting.
      if (failing.length > 0) throw new RuleEvaluationError(`rules fail to evaluate: ${failing.join('; ')}`);
      const pending = loaded.flatMap((g) => g.rules.filter((r) => r.health === 'unknown').map((r) => `${g.name}/${r.name}`));
      if (pending.length > 0) return `not evaluated yet: ${pending.join(', ')}`;
      return recordingsMissingData();
    });
  });

  after(async () => {
    await prometheus?.stop();
    if (daemon?.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      const stopped = await Promise.race([daemonRun!.then(() => true), delay(5000).then(() => false)]);
      if (!stopped) daemon.kill('SIGKILL');
      await daemonRun;
    }
    daemonWatchdog?.kill('SIGKILL');
    await Promise.all([...redis.values()].map((server) => server.stop()));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('loads every group and rule of the file, evaluates each, and none reports an error', async () => {
    const loaded = await prometheus!.ruleGroups();
    // The API lists groups by name; rules keep their order within a group.
    assert.deepEqual(
      loaded.map((g) => `${g.name}: ${g.rules.map((r) => r.name).join(', ')}`).sort(),
      groups.map((g) => `${g.name}: ${g.rules.map((r) => ('record' in r ? r.record : r.alert)).join(', ')}`).sort(),
    );
    for (const group of loaded) {
      assert.notEqual(group.lastEvaluation, NEVER_EVALUATED, `group ${group.name} never evaluated`);
      assert.equal(group.interval, 1, `group ${group.name} runs every second in this test`);
      for (const rule of group.rules) {
        assert.equal(rule.health, 'ok', `${group.name}/${rule.name}: ${rule.lastError ?? ''}`);
        assert.ok(!rule.lastError, `${group.name}/${rule.name}: ${rule.lastError ?? ''}`);
        assert.notEqual(rule.lastEvaluation, NEVER_EVALUATED, `${group.name}/${rule.name} never evaluated`);
      }
    }
  });

  it('every recording rule has data; the maintenance exclusion drops the target in maintenance', async () => {
    // No recording rule is expected to be empty, not even the 30d ones: rate() over 30m..6h
    // extrapolates from the seconds of history there are, and the 1d/3d/30d rules take
    // sum_over_time of the recorded 5m rates, which exist after the first evaluation.
    assert.equal(await recordingsMissingData(), undefined);

    const objective = await prometheus!.vector('redis_probe:slo_objective:ratio');
    assert.equal(valueOf(objective[0]), 0.999);
    const budget = await prometheus!.vector('redis_probe:slo_error_budget:ratio');
    assert.ok(Math.abs(valueOf(budget[0]) - 0.001) < 1e-12, JSON.stringify(budget));
    for (const record of ['redis_probe:availability:ratio_rate5m', 'redis_probe:availability:ratio_rate1h', 'redis_probe:availability:ratio_rate30d']) {
      const samples = await prometheus!.vector(record);
      assert.deepEqual(targetsOf(samples), [...TARGETS]);
      for (const s of samples) assert.equal(valueOf(s), 1, `${record}${JSON.stringify(s.metric)}: every cycle succeeded`);
    }
    const burn = await prometheus!.vector('redis_probe:error_budget_burn:rate1h');
    for (const s of burn) assert.equal(valueOf(s), 0, `burn rate of ${s.metric['target'] ?? '?'}`);
    const latency = await prometheus!.vector('redis_probe:latency_sli:ratio_rate5m');
    assert.deepEqual(targetsOf(latency), [...TARGETS]);
    for (const s of latency) assert.ok(valueOf(s) > 0 && valueOf(s) <= 1, `latency SLI ${JSON.stringify(s)}`);
  });

  it('every alert expression evaluates and none holds while every target is healthy', async () => {
    for (const rule of alertRules) {
      const answer = await prometheus!.query(rule.expr);
      assert.equal(answer.status, 'success', `${alertLabel(rule)}: ${answer.error ?? ''}`);
      assert.deepEqual(answer.data?.result, [], `${alertLabel(rule)} holds while all is well: ${rule.expr}`);
    }
    assert.deepEqual(await activeAlerts(), []);
  });

  it('every dashboard expression evaluates; all have data except the listed ones, whose metrics are absent', async () => {
    const keys = new Set(dashboardExprs().map(exprKey));
    for (const key of [...Object.keys(NO_DATA_HEALTHY), ...Object.keys(NO_DATA_OUTAGE)]) {
      assert.ok(keys.has(key), `no dashboard expression ${key}: update the no-data lists`);
    }
    const exposition = await daemonMetrics();
    for (const [key, { absentMetric }] of Object.entries(NO_DATA_ALWAYS)) {
      if (absentMetric !== undefined) assert.ok(!hasSample(exposition, absentMetric), `${key}: ${absentMetric} has samples on /metrics`);
    }
    assert.ok(hasSample(exposition, 'redis_probe_maintenance_in_progress'), 'the maintenance panels need the target with maintenanceEvents');
    assert.equal(await dashboardMismatches(NO_DATA_HEALTHY), undefined);

    const annotation = await prometheus!.vector('max by (target) (redis_probe_maintenance_in_progress{target=~".*"}) > 0');
    assert.deepEqual(targetsOf(annotation), [IN_MAINTENANCE]);
  });

  it(`a killed redis: only ${KILLED}'s 5m availability drops, and TargetDown and the 1h/5m burn alert go pending or firing`, async (t) => {
    const started = performance.now();
    await redis.get(KILLED)!.kill();
    await redis.get(IN_MAINTENANCE)!.call('PUBLISH', 'AzureRedisEvents', MAINTENANCE_START);
    await waitUntil(`${KILLED}'s availability to drop and its alerts to go pending`, OUTAGE_TIMEOUT_MS, async () => {
      const availability = await prometheus!.vector('redis_probe:availability:ratio_rate5m');
      const byTarget = new Map(availability.map((s) => [s.metric['target'], valueOf(s)]));
      if (!((byTarget.get(KILLED) ?? 1) < 1)) return `5m availability ${JSON.stringify(Object.fromEntries(byTarget))}`;
      const alerts = await activeAlerts();
      const down = alerts.some((a) => a.labels['alertname'] === 'RedisProbeTargetDown' && a.labels['target'] === KILLED);
      const burn = alerts.some(
        (a) => a.labels['alertname'] === 'RedisProbeErrorBudgetBurn' && a.labels['long_window'] === '1h' && a.labels['target'] === KILLED,
      );
      return down && burn ? undefined : `alerts: ${JSON.stringify(alerts.map((a) => a.labels))}`;
    });
    const reactedAfterMs = performance.now() - started;

    const availability = await prometheus!.vector('redis_probe:availability:ratio_rate5m');
    for (const s of availability) {
      const target = s.metric['target'];
      if (target === KILLED) assert.ok(valueOf(s) < 1 && valueOf(s) >= 0, `${target}: ${s.value[1]}`);
      else assert.equal(valueOf(s), 1, `${target ?? '?'} must stay at 1`);
    }
    assert.deepEqual(targetsOf(availability), [...TARGETS]);

    const alerts = await activeAlerts();
    for (const alert of alerts) {
      assert.ok(['pending', 'firing'].includes(alert.state));
      assert.equal(alert.labels['target'], KILLED, `only ${KILLED} may alert: ${JSON.stringify(alert.labels)}`);
    }
    // One location (no `location` label): the quorum is 1, so the outage pages.
    const targetDown = alerts.find((a) => a.labels['alertname'] === 'RedisProbeTargetDown');
    assert.equal(targetDown?.labels['severity'], 'critical');
    const fastBurn = alerts.find((a) => a.labels['alertname'] === 'RedisProbeErrorBudgetBurn' && a.labels['long_window'] === '1h');
    assert.equal(fastBurn?.labels['severity'], 'critical');
    for (const alert of [targetDown, fastBurn]) {
      assert.deepEqual({ team: alert?.labels['team'], env: alert?.labels['env'] }, KILLED_ROUTING_LABELS, `routing labels of ${JSON.stringify(alert?.labels)}`);
    }
    assert.ok(Number(fastBurn?.value) > 14.4, `burn rate ${fastBurn?.value ?? '?'}`);
    t.diagnostic(`Prometheus saw the outage and both alerts went ${targetDown?.state ?? '?'}/${fastBurn?.state ?? '?'} after ${Math.round(reactedAfterMs)} ms`);
  });

  it('during the outage the failure panels show the killed target and alert expressions name only it', async () => {
    assert.equal(await dashboardMismatches(NO_DATA_OUTAGE), undefined);
    const byReason = await prometheus!.vector('sum by (target, reason) (increase(redis_probe_cycle_failures_total{target=~".*"}[1m])) > 0');
    assert.deepEqual(targetsOf(byReason), [KILLED]);
    for (const rule of alertRules) {
      const answer = await prometheus!.query(rule.expr);
      assert.equal(answer.status, 'success', `${alertLabel(rule)}: ${answer.error ?? ''}`);
      const samples = answer.data?.result as PromSample[];
      for (const s of samples) assert.equal(s.metric['target'], KILLED, `${alertLabel(rule)} holds for ${JSON.stringify(s.metric)}`);
    }
    const targetDown = alertRules.find((r) => r.alert === 'RedisProbeTargetDown')!;
    assert.deepEqual(targetsOf((await prometheus!.query(targetDown.expr)).data?.result as PromSample[]), [KILLED]);
  });
});
