/**
 * Issue 15, live and end to end: the built daemon (`node dist/cli.js run`) probes two real
 * redis-servers every second, a real Prometheus scrapes it every second and evaluates
 * k8s/rules/redis-probe.rules.yml, and `redis-probe sla` reports from that Prometheus.
 *
 * One redis ("orders") is killed 50 s after a UTC minute boundary B and started again at B+125 s,
 * so the minute [B+60 s, B+120 s) has only failed attempts and its neighbours each have some
 * successes: the report over [B, B+180 s) must show exactly that one minute down, as one incident.
 * The other redis ("steady") never fails. The outage's edges sit 5-10 s away from any minute
 * boundary, so a cycle or a scrape landing a second early or late cannot move a minute.
 *
 * This is the suite's one slow test: it waits on real minutes (up to 4 minutes in all). Every
 * rule group's `interval` is rewritten to 1s in a temporary copy, as in prometheus-e2e.test.ts:
 * the file's 1m would evaluate redis_probe:sla_minute_down:1m once a minute at a hash-derived
 * offset, not at the minute boundaries the report uses, so the two could not be compared here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess, ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { collect, runCli, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { freePort } from '../support/free-port.ts';
import { killWithParent, startPrometheus } from '../support/prometheus-server.ts';
import type { PrometheusServer } from '../support/prometheus-server.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { delay, waitFor } from '../support/wait.ts';
import { RULES_FILE } from '../deploy/paths.ts';

const JOB = 'redis-probe';
const MINUTE_MS = 60_000;
/** Seconds after the boundary B: redis "orders" is killed, then started again. */
const KILL_AT_MS = 50_000;
const RESTART_AT_MS = 125_000;
const PERIOD_MS = 3 * MINUTE_MS;
/** After B+180 s: one more scrape and rule evaluation (both every second) have landed. */
const SETTLE_MS = 5_000;
/** Scraping must have started this long before B, so the first minute has a sample at its start. */
const LEAD_MS = 5_000;
/** Longest run: up to a minute until B plus the lead, the 3 minutes, the settling and start-up. */
const TEST_TIMEOUT_MS = 330_000;

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Resolves once the wall clock reaches `ms` (a live test waits on real minutes: no clock to inject). */
const until = (ms: number): Promise<void> => delay(Math.max(0, ms - Date.now()));

let workDir: string;
let orders: RedisServer;
let steady: RedisServer;
let daemon: ChildProcessWithoutNullStreams | undefined;
let daemonWatchdog: ChildProcess | undefined;
let daemonRun: Promise<CliRun> | undefined;
let prometheus: PrometheusServer | undefined;

describe('live: redis-probe sla reports a real outage to the minute', { timeout: TEST_TIMEOUT_MS }, () => {
  before(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-sla-live-'));
    [orders, steady] = await Promise.all([startRedis(), startRedis()]);

    const daemonPort = await freePort();
    const configPath = path.join(workDir, 'config.yaml');
    writeFileSync(
      configPath,
      YAML.stringify({
        server: { host: '127.0.0.1', port: daemonPort, shutdownGrace: '1s' },
        log: { level: 'warn', format: 'json' },
        defaults: { schedule: '* * * * * *', timeout: '500ms', tls: { enabled: false }, sla: { objective: 99.95 } },
        targets: [
          { name: 'orders', host: '127.0.0.1', port: orders.port, sla: { objective: 99.5 } },
          { name: 'steady', host: '127.0.0.1', port: steady.port },
        ],
      }),
    );
    daemon = spawnCli(['run', '--config', configPath]);
    if (daemon.pid !== undefined) daemonWatchdog = killWithParent(daemon.pid, workDir);
    daemonRun = collect(daemon, TEST_TIMEOUT_MS);

    const rulesCopy = path.join(workDir, path.basename(RULES_FILE));
    const parsed = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { interval?: string }[] };
    for (const group of parsed.groups) group.interval = '1s';
    writeFileSync(rulesCopy, YAML.stringify(parsed, { lineWidth: 0 }));
    prometheus = await startPrometheus({
      scrapeConfigs: [{ job_name: JOB, static_configs: [{ targets: [`127.0.0.1:${daemonPort}`] }] }],
      ruleFiles: [rulesCopy],
    });
    await waitFor(
      async () => {
        const scraped = await prometheus!.vector(`redis_probe_cycles_total{job="${JOB}"} > 0`);
        return scraped.length === 2;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'Prometheus to scrape cycles of both targets' },
    );
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
    await Promise.all([orders?.stop(), steady?.stop()]);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('one whole minute without connectivity is one down minute, one incident; the rules agree', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const startedMs = Date.now();
    const boundaryMs = Math.ceil((Date.now() + LEAD_MS) / MINUTE_MS) * MINUTE_MS;
    await until(boundaryMs + KILL_AT_MS);
    await orders.kill();
    await until(boundaryMs + RESTART_AT_MS);
    await orders.restart();
    await until(boundaryMs + PERIOD_MS + SETTLE_MS);

    const run = await runCli(['sla', '--prometheus', prometheus!.url, '--from', iso(boundaryMs), '--to', iso(boundaryMs + PERIOD_MS), '--format', 'json'], {
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr);
    const downMinute = boundaryMs + MINUTE_MS;
    assert.deepEqual(JSON.parse(run.stdout), {
      targets: [
        {
          target: 'orders',
          // 2 of 3 minutes up; below 95 % earns the 100 % tier, and the objective is orders' own
          uptime_percent: 66.6667,
          downtime_minutes: 1,
          unknown_minutes: 0,
          objective: 99.5,
          met: false,
          credit_percent: 100,
          incidents: [{ start: iso(downMinute), end: iso(downMinute + MINUTE_MS), minutes: 1, reason: 'connection_refused', maintenance: false }],
        },
        {
          target: 'steady',
          uptime_percent: 100,
          downtime_minutes: 0,
          unknown_minutes: 0,
          objective: 99.95,
          met: true,
          credit_percent: 0,
          incidents: [],
        },
      ],
    });

    // The recording rule, read at the same minute ends the report evaluates at.
    const answer = await prometheus!.api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>('query_range', {
      query: `redis_probe:sla_minute_down:1m`,
      start: String((boundaryMs + MINUTE_MS) / 1000),
      end: String((boundaryMs + PERIOD_MS) / 1000),
      step: '60',
    });
    assert.equal(answer.status, 'success', answer.error);
    const recorded = Object.fromEntries(
      (answer.data?.result ?? []).map((s): [string, string[]] => [
        s.metric['target'] ?? '',
        s.values.map(([at, value]) => `${iso(at * 1000 - MINUTE_MS)} ${value}`),
      ]),
    );
    const minutes = [0, 1, 2].map((i) => iso(boundaryMs + i * MINUTE_MS));
    assert.deepEqual(recorded, {
      orders: [`${minutes[0]} 0`, `${minutes[1]} 1`, `${minutes[2]} 0`],
      steady: [`${minutes[0]} 0`, `${minutes[1]} 0`, `${minutes[2]} 0`],
    });
    t.diagnostic(`minute boundary ${iso(boundaryMs)}; the test ran ${Math.round((Date.now() - startedMs) / 1000)} s after start-up`);
  });
});
