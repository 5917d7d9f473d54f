import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';

const SECRET = 'daemon-secret-Zr8Kp3';
let server: RedisServer;
let daemon: ChildProcessWithoutNullStreams;
let exited: Promise<CliRun>;
let base: string;

const get = async (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
const metrics = async () => (await get('/metrics')).text();

before(async () => {
  server = await startRedis({ aclUsers: [{ name: 'prober', password: SECRET, rules: '+@all ~* &*' }] });
  const dir = await mkdtemp(join(tmpdir(), 'redis-probe-daemon-'));
  await writeFile(join(dir, 'key'), SECRET);
  const httpPort = await freePort();
  base = `http://127.0.0.1:${httpPort}`;
  await writeFile(
    join(dir, 'config.yaml'),
    `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 5s }
defaults: { schedule: "* * * * * *", timeout: 500ms, tls: { enabled: false } }
credentials:
  - { name: key, type: access-key, username: prober, passwordFile: key }
  - { name: wrong, type: access-key, username: prober, password: not-the-password-1 }
targets:
  - { name: healthy, host: 127.0.0.1, port: ${server.port}, credential: key, labels: { team: cache } }
  - { name: refused, host: 127.0.0.1, port: ${await freePort()} }
  - { name: badauth, host: 127.0.0.1, port: ${server.port}, credential: wrong }
`,
  );
  daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')]);
  exited = collect(daemon, 60_000);
  await waitFor(async () => (sampleValue(await metrics().catch(() => ''), 'redis_probe_cycles_total', { target: 'refused' }) ?? 0) >= 2, {
    timeoutMs: 15_000,
    intervalMs: 200,
    message: 'the daemon never completed two cycles',
  });
});
after(async () => {
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
  await server.stop();
});

describe('the daemon, end to end (spawned, scraped, stopped)', { timeout: 60_000 }, () => {
  it('exports success, failures by step and reason, latencies and target info', async () => {
    await waitFor(async () => (sampleValue(await metrics(), 'redis_probe_cycles_total', { target: 'healthy' }) ?? 0) >= 2, { timeoutMs: 5000 });
    const text = await metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'healthy' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'refused' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'badauth' }), 0);
    assert.ok((sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'refused', reason: 'connection_refused' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'refused', step: 'connect' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'badauth', reason: 'auth' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'badauth', step: 'auth' }) ?? 0) >= 1);
    assert.equal(
      sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'healthy', reason: 'oom' }),
      undefined,
      'appears at its first failure (metrics.detail standard)',
    );
    assert.ok((sampleValue(text, 'redis_probe_step_duration_seconds_count', { target: 'healthy', step: 'ping' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'redis_probe_step_duration_seconds_sum', { target: 'healthy', step: 'ping' }) ?? 0) > 0);
    assert.ok((sampleValue(text, 'redis_probe_last_success_timestamp_seconds', { target: 'healthy' }) ?? 0) > Date.now() / 1000 - 10);
    assert.ok((sampleValue(text, 'redis_probe_clients', { target: 'healthy' }) ?? 0) >= 1);
    assert.equal(sampleValue(text, 'redis_probe_target_info', { target: 'healthy', team: 'cache', tls: 'false' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_build_info', { version: '0.1.0' }), 1);
    assert.ok(sampleValue(text, 'process_resident_memory_bytes') !== undefined, 'default process metrics');
  });

  it('passes promtool check metrics', async () => {
    const result = await promtoolCheckMetrics(await metrics());
    assert.equal(result.code, 0, result.output);
  });

  it('answers health, readiness, status, 404 and 405', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200, 'ready even though two targets are down');
    const status = (await (await get('/')).json()) as { targets: { target: string; state: string }[] };
    assert.deepEqual(status.targets.map((entry) => [entry.target, entry.state]).sort(), [
      ['badauth', 'down'],
      ['healthy', 'up'],
      ['refused', 'down'],
    ]);
    assert.equal((await get('/nope')).status, 404);
    const post = await get('/metrics', { method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('stops on SIGTERM with exit 0, JSON logs throughout, state changes logged, no secret anywhere', async () => {
    const scraped = await metrics();
    const page = await (await get('/')).text();
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.every((line) => typeof line.level === 'string' && typeof line.message === 'string' && typeof line.timestamp === 'string'));
    assert.ok(!lines.some((line) => line.message === 'probe cycle succeeded'), 'successful cycles are not logged at default settings');
    assert.ok(
      lines.some((line) => line.message === 'probe cycle failed' && line.target === 'refused' && line.reason === 'connection_refused' && line.level === 'warn'),
    );
    assert.ok(lines.some((line) => line.message === 'target is down' && line.target === 'refused'));
    assert.ok(lines.some((line) => line.message === 'target is up' && line.target === 'healthy'));
    assert.equal(lines.at(-1)?.message, 'stopped');
    for (const text of [run.stdout, run.stderr, scraped, page]) {
      assert.ok(!text.includes(SECRET), 'the access key leaked');
      assert.ok(!text.includes('not-the-password-1'), 'the wrong password leaked');
    }
  });
});
