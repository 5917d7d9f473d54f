import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/shared/clock.ts';
import type { ClusterConfig, TargetConfig } from '../../src/config/types.ts';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { createTargetRunner } from '../../src/daemon/target-runner.ts';
import type { TargetRunner } from '../../src/probe/probe.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { keySlot, startRedisCluster } from '../support/redis-cluster.ts';
import type { ClusterNode, RedisCluster } from '../support/redis-cluster.ts';
import { targetConfig } from '../support/target-config.ts';
import { waitFor } from '../support/wait.ts';

let cluster: RedisCluster;
const runners: TargetRunner[] = [];
const proxies: FaultProxy[] = [];
let counter = 0;

function clusterTarget(name: string, seed: { host: string; port: number }, cluster: Partial<ClusterConfig> = {}): TargetConfig {
  return targetConfig({ name, host: seed.host, port: seed.port, cluster: { natMap: {}, refreshMs: 60_000, ...cluster } });
}

function runnerFor(target: TargetConfig): TargetRunner {
  const runner = createTargetRunner(target, {
    clock: systemClock,
    instanceId: 'test',
    randomValue: () => `value-${++counter}`,
    redactor: createSecretRedactor(),
  });
  runners.push(runner);
  return runner;
}

const address = (node: ClusterNode): string => `${node.host}:${node.port}`;
const byNode = (results: readonly CycleResult[]): Map<string, CycleResult> => new Map(results.map((result) => [result.node ?? '', result]));
const describeResults = (results: readonly CycleResult[]): string =>
  results
    .map((result) => `${result.node ?? '(no node)'} ${result.success ? 'ok' : `${result.failure?.step}/${result.failure?.reason}: ${result.failure?.message}`}`)
    .join('; ');

before(async () => {
  cluster = await startRedisCluster();
});
after(async () => {
  await Promise.all(runners.map((runner) => runner.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await cluster.stop();
});

describe('cluster runner against a real 3-primary cluster', { timeout: 55_000 }, () => {
  it('probes every primary, each with a key on its own slots, and returns one result per node', async () => {
    const seed = cluster.replicas()[0]!;
    const runner = runnerFor(clusterTarget('all-green', seed));
    const results = await runner.run('schedule');
    assert.deepEqual([...byNode(results).keys()].sort(), cluster.primaries().map(address).sort(), describeResults(results));
    assert.ok(
      results.every((result) => result.success && result.target === 'all-green'),
      describeResults(results),
    );
    assert.ok(results.every((result) => result.steps.some((timing) => timing.step === 'set')));
    for (const primary of cluster.primaries()) {
      // The key each node was probed with lives on that node, and the cluster agrees which slot it is in.
      const keys = (await primary.server.cli('KEYS', 'redis-probe:*')).split('\n').filter((key) => key.includes(':all-green:'));
      assert.equal(keys.length, 1, `one probe key on ${address(primary)}: ${keys.join(', ')}`);
      const key = keys[0]!;
      const slot = Number(await primary.server.cli('CLUSTER', 'KEYSLOT', key));
      assert.equal(slot, keySlot(key));
      assert.equal(address(await cluster.nodeOwningSlot(slot)), address(primary), `${key} (slot ${slot})`);
      assert.match(key, /^redis-probe:\{\d+\}:all-green:test$/);
    }
    const again = await runner.run('schedule');
    assert.ok(
      again.every((result) => result.success && !result.steps.some((timing) => timing.step === 'connect')),
      'connections persist across cycles',
    );
  });

  it('connects through natMap addresses but labels nodes with the announced ones', async () => {
    const natMap: Record<string, { host: string; port: number }> = {};
    const viaProxy = new Map<string, FaultProxy>();
    for (const primary of cluster.primaries()) {
      const proxy = await startFaultProxy({ host: primary.host, port: primary.port });
      proxies.push(proxy);
      natMap[address(primary)] = { host: proxy.host, port: proxy.port };
      viaProxy.set(address(primary), proxy);
    }
    const runner = runnerFor(clusterTarget('nat', cluster.replicas()[0]!, { natMap }));
    const results = await runner.run('schedule');
    assert.ok(
      results.every((result) => result.success),
      describeResults(results),
    );
    assert.deepEqual([...byNode(results).keys()].sort(), [...viaProxy.keys()].sort());
    for (const proxy of viaProxy.values()) assert.equal(proxy.connectionCount(), 1, 'each node probe went through its mapped address');

    // Prove the traffic really flows through the map: refusing one mapped address fails exactly that node.
    const [victim, victimProxy] = [...viaProxy.entries()][1]!;
    let lost = 0;
    runner.onConnectionLost(() => (lost += 1));
    await victimProxy.setMode('refuse');
    victimProxy.resetAll();
    await waitFor(() => lost > 0, { message: 'the runner to report the dropped node connection' });
    const failing = byNode(await runner.run('schedule'));
    assert.equal(failing.get(victim)?.failure?.reason, 'connection_refused', describeResults([...failing.values()]));
    assert.equal([...failing.values()].filter((result) => result.success).length, 2);
    await victimProxy.setMode('pass');
    const healed = await runner.run('schedule');
    assert.ok(
      healed.every((result) => result.success),
      describeResults(healed),
    );
  });

  it('follows a failover at once: a MOVED reply triggers re-discovery in the same cycle, the old primary is let go', async () => {
    const runner = runnerFor(clusterTarget('switch', cluster.replicas()[0]!));
    const before = await runner.run('schedule');
    assert.ok(
      before.every((result) => result.success),
      describeResults(before),
    );
    const replica = cluster.replicas()[1]!;
    const oldPrimary = cluster.nodes.find((node) => node.id === replica.primaryId)!;
    await cluster.failover(replica);
    const started = performance.now();
    const after = await runner.run('schedule');
    assert.ok(
      after.every((result) => result.success),
      describeResults(after),
    );
    assert.ok(byNode(after).has(address(replica)), 'the promoted replica is probed');
    assert.ok(!byNode(after).has(address(oldPrimary)), 'the demoted primary is no longer probed');
    assert.ok(performance.now() - started < 2000);
    const clients = await oldPrimary.server.cli('CLIENT', 'LIST');
    assert.ok(!clients.includes('name=redis-probe:test:switch'), 'the probe connection to the node that left is closed');
  });

  it('a killed primary fails alone (partial failure in the roll-up), and its promoted replica is green on its own', async (t) => {
    const victim = cluster.primaries()[0]!;
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = clusterTarget('kill', victim);
    const targetMetrics = metrics.registerTarget(target, { authenticated: false });
    // Seeded through the node that dies, so re-discovery must fall back to the other known primaries.
    const runner = runnerFor(target);
    const first = await runner.run('schedule');
    assert.ok(
      first.every((result) => result.success),
      describeResults(first),
    );
    targetMetrics.recordCluster(first);

    await victim.server.kill();
    const broken = await runner.run('schedule');
    targetMetrics.recordCluster(broken);
    const failed = broken.filter((result) => !result.success);
    assert.deepEqual(
      failed.map((result) => result.node),
      [address(victim)],
      describeResults(broken),
    );
    assert.ok(['connection_refused', 'connection_reset'].includes(failed[0]?.failure?.reason ?? ''), describeResults(broken));
    let text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'kill' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'kill', state: 'failed' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'kill', state: 'ok' }), 2);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'kill', node: address(victim) }), 0);

    const killedAt = performance.now();
    const healed = await waitFor(
      async () => {
        const results = await runner.run('schedule');
        targetMetrics.recordCluster(results);
        return results.length === 3 && results.every((result) => result.success) ? results : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'the cluster target to be green again after automatic failover' },
    );
    await cluster.refresh();
    const promoted = cluster.nodes.find(
      (node) => node.primaryId === undefined && node.role === 'primary' && node !== victim && !first.some((result) => result.node === address(node)),
    )!;
    assert.ok(byNode(healed).has(address(promoted)), `the promoted replica ${address(promoted)} is probed: ${describeResults(healed)}`);
    assert.ok(!byNode(healed).has(address(victim)));
    text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'kill' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'kill', node: address(victim) }), undefined, 'series of the node that left are gone');
    t.diagnostic(`green again ${Math.round(performance.now() - killedAt)} ms after SIGKILL`);
  });
});
