/**
 * `redis-probe sla` against a real Prometheus holding a month of backfilled history
 * (`promtool tsdb create-blocks-from openmetrics`) with known outages, a partly failed minute,
 * a daemon restart, a scrape gap and planned maintenance: the report must match exactly.
 * The same Prometheus, behind a loopback proxy that wants an Entra bearer token, stands in for
 * an Azure Monitor workspace query endpoint, reached with the real @azure/identity.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli-process.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { freePort } from '../support/free-port.ts';
import { startPrometheus } from '../support/prometheus-server.ts';
import type { PrometheusServer } from '../support/prometheus-server.ts';
import { promtoolBinary } from '../deploy/promtool.ts';

const MONTH = '2025-02';
const FROM_S = Date.UTC(2025, 1, 1) / 1000;
const MINUTES = 28 * 1440;
/** Minute index of a UTC time within the month. */
const minuteAt = (iso: string): number => (Date.parse(iso) / 1000 - FROM_S) / 60;

// orders (instance p): the history below; steady (instance q, another replica): never fails, never a gap.
const OUTAGE_A = { start: minuteAt('2025-02-03T10:00:00Z'), minutes: 15 };
const PARTIAL_MINUTE = minuteAt('2025-02-05T08:00:00Z');
const OUTAGE_B = { start: minuteAt('2025-02-17T02:00:00Z'), minutes: 16 };
const MAINTENANCE = { start: minuteAt('2025-02-17T01:55:00Z'), end: minuteAt('2025-02-17T02:30:00Z') };
const DAEMON_DOWN = { start: minuteAt('2025-02-20T12:00:00Z'), minutes: 2 };
const SCRAPE_GAP = { start: minuteAt('2025-02-25T06:00:00Z'), minutes: 20 };

/** What the probe did in minute m against orders: 4 cycles (one every 15 s), failures by reason; undefined: not running. */
function ordersMinute(m: number): { cycles: number; refused: number; timeout: number } | undefined {
  if (m >= DAEMON_DOWN.start && m < DAEMON_DOWN.start + DAEMON_DOWN.minutes) return undefined;
  if (m >= OUTAGE_A.start && m < OUTAGE_A.start + OUTAGE_A.minutes) return { cycles: 4, refused: 4, timeout: 0 };
  if (m === PARTIAL_MINUTE) return { cycles: 4, refused: 0, timeout: 3 };
  if (m >= OUTAGE_B.start && m < OUTAGE_B.start + OUTAGE_B.minutes) {
    return m < OUTAGE_B.start + 2 ? { cycles: 4, refused: 4, timeout: 0 } : { cycles: 4, refused: 0, timeout: 4 };
  }
  return { cycles: 4, refused: 0, timeout: 0 };
}

/**
 * OpenMetrics for the month. Prometheus scrapes once a minute at :50, after the minute's cycles at
 * :05, :20, :35 and :50, so each scrape closes exactly one minute of cycles.
 */
function openMetrics(): string {
  const series = new Map<string, string[]>();
  const sample = (name: string, labels: string, value: number, m: number): void => {
    const key = `${name}{${labels}}`;
    let lines = series.get(key);
    if (!lines) series.set(key, (lines = []));
    lines.push(`${key} ${value} ${FROM_S + m * 60 + 50}`);
  };
  const orders = 'job="redis-probe",instance="p:9637",target="orders"';
  const steady = 'job="redis-probe",instance="q:9637",target="steady"';
  let cycles = 0;
  let refused = 0;
  let timeout = 0;
  for (let m = 0; m < MINUTES; m += 1) {
    const probe = ordersMinute(m);
    if (probe === undefined) {
      // The daemon is down: its counters start again from 0 when it is back.
      cycles = refused = timeout = 0;
    } else {
      cycles += probe.cycles;
      refused += probe.refused;
      timeout += probe.timeout;
    }
    const scraped = probe !== undefined && !(m >= SCRAPE_GAP.start && m < SCRAPE_GAP.start + SCRAPE_GAP.minutes);
    if (scraped) {
      sample('redis_probe_cycles_total', orders, cycles, m);
      sample('redis_probe_cycle_failures_total', `${orders},step="connect",reason="connection_refused"`, refused, m);
      sample('redis_probe_cycle_failures_total', `${orders},step="ping",reason="timeout"`, timeout, m);
      if (m % 5 === 0) sample('redis_probe_sla_objective', orders, 0.999, m);
      if (m >= MAINTENANCE.start - 60 && m < MAINTENANCE.end + 60) {
        sample('redis_probe_maintenance_in_progress', orders, m >= MAINTENANCE.start && m < MAINTENANCE.end ? 1 : 0, m);
      }
    }
    sample('redis_probe_cycles_total', steady, (m + 1) * 4, m);
    if (m % 5 === 0) sample('redis_probe_sla_objective', steady, 0.9995, m);
  }
  // Samples of one family must be contiguous.
  const byFamily = [...series.entries()].sort(([a], [b]) => a.localeCompare(b));
  return `${byFamily.map(([, lines]) => lines.join('\n')).join('\n')}\n# EOF\n`;
}

const EXPECTED_ORDERS = {
  target: 'orders',
  // counted = 40320 − 22 unknown = 40298; (40298 − 31) / 40298 = 99.92307…
  uptime_percent: 99.9231,
  downtime_minutes: 31,
  // 2 minutes the daemon was down + 20 minutes without scrapes; the partly failed minute is up
  unknown_minutes: 22,
  objective: 99.9,
  met: true,
  credit_percent: 0,
  incidents: [
    { start: '2025-02-03T10:00:00Z', end: '2025-02-03T10:15:00Z', minutes: 15, reason: 'connection_refused', maintenance: false },
    { start: '2025-02-17T02:00:00Z', end: '2025-02-17T02:16:00Z', minutes: 16, reason: 'timeout', maintenance: true },
  ],
};
const EXPECTED_STEADY = {
  target: 'steady',
  uptime_percent: 100,
  downtime_minutes: 0,
  unknown_minutes: 0,
  objective: 99.95,
  met: true,
  credit_percent: 0,
  incidents: [],
};

let workDir: string;
let prometheus: PrometheusServer;
let tokens: FakeTokenEndpoint;
let proxy: Server;
let proxyUrl: string;
const proxied: { authorized: number; refused: number } = { authorized: 0, refused: 0 };

/** An Azure Monitor workspace stand-in: Prometheus behind a check of the bearer token. */
function startAuthProxy(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const issued = new Set(tokens.issuedTokens().map((t) => `Bearer ${t.token}`));
      if (!issued.has(req.headers.authorization ?? '')) {
        proxied.refused += 1;
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'InvalidAuthenticationToken' } }));
        return;
      }
      proxied.authorized += 1;
      fetch(`${prometheus.url}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
      }).then(
        async (answer) => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()),
        () => res.writeHead(502).end(),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const sla = (args: readonly string[], env: NodeJS.ProcessEnv = {}) => runCli(['sla', ...args], { env, timeoutMs: 60_000 });
const parseReport = (stdout: string) => JSON.parse(stdout) as { targets: { target: string }[] };

describe('redis-probe sla over a backfilled month', { timeout: 240_000 }, () => {
  before(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'redis-probe-sla-'));
    const input = path.join(workDir, 'history.om');
    writeFileSync(input, openMetrics());
    const blocks = path.join(workDir, 'blocks');
    const created = spawnSync(promtoolBinary(), ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', input, blocks], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(created.status, 0, `${created.stdout}${created.stderr}`);
    // No scrape: the history is all there is. Retention covers a month long past.
    prometheus = await startPrometheus({ scrapeConfigs: [], seedBlocksDir: blocks, retention: '30y' });
    tokens = await startFakeTokenEndpoint({ lifetimeSeconds: 3600 });
    proxy = await startAuthProxy();
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  after(async () => {
    await prometheus?.stop();
    await tokens?.close();
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('reports uptime, downtime, unknown minutes and incidents of every target exactly (JSON)', async () => {
    const run = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--format', 'json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { targets: [EXPECTED_ORDERS, EXPECTED_STEADY] });
  });

  it('--target, --objective and --credit-tiers: below the objective earns its credit tier', async () => {
    const run = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--format', 'json', '--target', 'orders', '--objective', '99.95']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parseReport(run.stdout), { targets: [{ ...EXPECTED_ORDERS, objective: 99.95, met: false, credit_percent: 10 }] });
    const tiers = await sla([
      '--prometheus',
      prometheus.url,
      '--month',
      MONTH,
      '--format',
      'json',
      '--target',
      'orders',
      '--credit-tiers',
      'objective:5,99.95:50',
    ]);
    assert.equal(tiers.code, 0, tiers.stderr);
    assert.deepEqual(parseReport(tiers.stdout), { targets: [{ ...EXPECTED_ORDERS, credit_percent: 50 }] });
  });

  it('--from/--to reports any period, counted in whole minutes', async () => {
    const run = await sla([
      '--prometheus',
      prometheus.url,
      '--from',
      '2025-02-03T09:50:00Z',
      '--to',
      '2025-02-03T10:20:00Z',
      '--target',
      'orders',
      '--format',
      'json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parseReport(run.stdout), {
      targets: [
        {
          ...EXPECTED_ORDERS,
          uptime_percent: 50,
          downtime_minutes: 15,
          unknown_minutes: 0,
          met: false,
          credit_percent: 100,
          incidents: [EXPECTED_ORDERS.incidents[0]],
        },
      ],
    });
  });

  it('table and CSV carry the same figures', async () => {
    const csv = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.trim().split('\n'), [
      'target,uptime_percent,downtime_minutes,unknown_minutes,objective,met,credit_percent,incidents',
      'orders,99.9231,31,22,99.9,true,0,2',
      'steady,100,0,0,99.95,true,0,0',
    ]);
    const table = await sla(['--prometheus', prometheus.url, '--month', MONTH]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SLA report 2025-02-01T00:00:00Z to 2025-03-01T00:00:00Z: 40320 minutes, job redis-probe$/m);
    assert.match(table.stdout, /^orders\s+99\.9231\s+99\.9\s+yes\s+31\s+22\s+0\s+2$/m);
    assert.match(table.stdout, /^orders\s+2025-02-17T02:00:00Z\s+2025-02-17T02:16:00Z\s+16 min\s+timeout\s+planned maintenance$/m);
  });

  it('through an Azure Monitor-style endpoint with an Entra token from @azure/identity (managed identity)', async () => {
    const env = { IDENTITY_ENDPOINT: tokens.managedIdentityEndpoint, IDENTITY_HEADER: tokens.identityHeader };
    const before = proxied.authorized;
    const run = await sla(['--prometheus', proxyUrl, '--month', MONTH, '--format', 'json', '--azure-auth', 'managed-identity'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { targets: [EXPECTED_ORDERS, EXPECTED_STEADY] });
    assert.ok(proxied.authorized > before, 'the queries went through the proxy');
    assert.ok(
      tokens.issuedTokens().some((t) => t.resource === 'https://prometheus.monitor.azure.com'),
      'token requested for the Azure Monitor scope',
    );
    for (const t of tokens.issuedTokens()) assert.ok(!run.stdout.includes(t.token) && !run.stderr.includes(t.token), 'no token in the output');
  });

  it('errors name the fix: auth needed (3), unreachable (3), no series (4), bad time range (5), usage (2)', async () => {
    const noAuth = await sla(['--prometheus', proxyUrl, '--month', MONTH]);
    assert.equal(noAuth.code, 3, noAuth.stderr);
    assert.match(noAuth.stderr, /HTTP 401.*--azure-auth/);

    const closed = await freePort();
    const unreachable = await sla(['--prometheus', `http://127.0.0.1:${closed}`, '--month', MONTH]);
    assert.equal(unreachable.code, 3, unreachable.stderr);
    assert.match(unreachable.stderr, /cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+.*check --prometheus/);

    const noTarget = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--target', 'nope']);
    assert.equal(noTarget.code, 4, noTarget.stderr);
    assert.match(noTarget.stderr, /no redis_probe_cycles_total\{job="redis-probe"\} for target "nope".*check --target and --job/);
    const otherMonth = await sla(['--prometheus', prometheus.url, '--month', '2025-04']);
    assert.equal(otherMonth.code, 4, otherMonth.stderr);

    const badMonth = await sla(['--prometheus', prometheus.url, '--month', '2025-13']);
    assert.equal(badMonth.code, 5, badMonth.stderr);
    assert.match(badMonth.stderr, /--month "2025-13" is not a month: use YYYY-MM/);
    const reversed = await sla(['--prometheus', prometheus.url, '--from', '2025-02-03T10:00:00Z', '--to', '2025-02-03T09:00:00Z']);
    assert.equal(reversed.code, 5, reversed.stderr);
    assert.match(reversed.stderr, /is not before --to/);

    const usage = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--format', 'xml']);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--format must be one of table, json, csv/);
    const both = await sla(['--prometheus', prometheus.url, '--month', MONTH, '--from', '2025-02-01T00:00:00Z']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --month or --from\/--to/);
  });
});
