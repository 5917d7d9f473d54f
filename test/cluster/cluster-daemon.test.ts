import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { freePort } from '../support/free-port.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import type { RedisCluster } from '../support/redis-cluster.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { waitFor } from '../support/wait.ts';

const SECRET = 'cluster-secret-Hq4Vn8';
let cluster: RedisCluster;
let single: RedisServer;
let dir: string;
let daemon: ChildProcessWithoutNullStreams;
let exited: Promise<CliRun>;
let stdout = '';
let base: string;

const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
const logLines = (): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

before(async () => {
  [cluster, single] = await Promise.all([startRedisCluster({ password: SECRET }), startRedis()]);
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-cluster-daemon-'));
  const httpPort = await freePort();
  base = `http://127.0.0.1:${httpPort}`;
  await writeFile(
    join(dir, 'config.yaml'),
    `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 5s }
log: { cycles: all }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
credentials:
  - { name: key, type: access-key, password: ${SECRET} }
targets:
  - { name: orders, host: 127.0.0.1, port: ${cluster.replicas()[0]!.port}, credential: key, cluster: true, clusterRefresh: 30s }
  - { name: single, host: 127.0.0.1, port: ${single.port} }
`,
  );
  daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')]);
  daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  exited = collect(daemon, 50_000);
  await waitFor(async () => (sampleValue(await metrics().catch(() => ''), 'redis_probe_cycles_total', { target: 'orders' }) ?? 0) >= 2, {
    timeoutMs: 15_000,
    intervalMs: 200,
    message: 'two cluster cycles',
  });
});
after(async () => {
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
  await Promise.all([cluster.stop(), single.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe('the daemon with a cluster target (spawned CLI)', { timeout: 50_000 }, () => {
  it('exports node series and a target roll-up, and single targets keep their exact series', async () => {
    const text = await metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'orders' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'orders', state: 'ok' }), 3);
    for (const primary of cluster.primaries()) {
      const node = `${primary.host}:${primary.port}`;
      assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'orders', node }), 1, node);
      assert.ok(
        (sampleValue(text, 'redis_probe_step_duration_seconds_count', { target: 'orders', node, step: 'auth' }) ?? 0) >= 1,
        'the credential reached every node',
      );
    }
    const cycles = text.split('\n').filter((line) => line.startsWith('redis_probe_cycles_total{'));
    assert.deepEqual(cycles.map((line) => line.replace(/ \d+$/, '')).sort(), [
      'redis_probe_cycles_total{target="orders"}',
      'redis_probe_cycles_total{target="single"}',
    ]);
    assert.deepEqual(
      text.split('\n').filter((line) => line.includes('target="single"') && line.includes('node=')),
      [],
    );
    assert.ok(text.includes('redis_probe_step_duration_seconds_count{target="single",step="ping"}'));
    assert.ok(!text.includes(SECRET));
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });

  it('logs one line per node, with node, and no per-node state flapping', async () => {
    const lines = logLines().filter((line) => line.target === 'orders');
    const cycleLines = lines.filter((line) => line.message === 'probe cycle succeeded');
    const nodes = new Set(cycleLines.map((line) => line.node));
    assert.deepEqual(
      [...nodes].sort(),
      cluster
        .primaries()
        .map((primary) => `${primary.host}:${primary.port}`)
        .sort(),
    );
    assert.ok(lines.filter((line) => line.message === 'target is up').length <= 1, 'one state change for the whole cluster');
    assert.ok(!stdout.includes(SECRET));
  });

  it('/ shows the cluster as one target', async () => {
    const status = (await (await fetch(`${base}/`)).json()) as { targets: { target: string; state: string }[] };
    assert.deepEqual(
      status.targets.filter((entry) => entry.target === 'orders').map((entry) => entry.state),
      ['up'],
    );
  });

  it('stops cleanly on SIGTERM', async () => {
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
  });
});

describe('redis-probe once with a cluster target', { timeout: 30_000 }, () => {
  it('reports every primary on its own, and exits 0 when all pass', async () => {
    const { runCli } = await import('../support/cli-process.ts');
    const run = await runCli(['once', '--config', join(dir, 'config.yaml'), '--target', 'orders']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const headers = run.stdout.split('\n').filter((line) => line.startsWith('== orders (node '));
    assert.equal(headers.length, cluster.primaries().length, run.stdout);
    assert.equal(run.stdout.match(/^SET Message returned : True$/gm)?.length, cluster.primaries().length);
    assert.ok(!run.stdout.includes(SECRET));
  });
});
