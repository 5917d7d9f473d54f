import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cluster } from 'ioredis';
import { CLUSTER_SLOTS, keySlot, startRedisCluster } from './redis-cluster.ts';
import type { RedisCluster } from './redis-cluster.ts';
import { generateTlsCerts } from './tls-certs.ts';

function clusterClient(cluster: RedisCluster): Cluster {
  const client = new Cluster(cluster.startupNodes(), {
    ...cluster.clusterOptions(),
    clusterRetryStrategy: () => null,
    enableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  return client;
}

test('keySlot matches Redis, including hash tags', { timeout: 5000 }, () => {
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('123456789'), 0x31c3 % CLUSTER_SLOTS);
  assert.equal(keySlot('{user1}.a'), keySlot('user1'));
  assert.notEqual(keySlot('{}.a'), keySlot('.a'), 'an empty tag hashes the whole key');
});

test('a 3x1 cluster becomes ok, routes keys, and fails over on request', { timeout: 40_000 }, async () => {
  const startedMs = performance.now();
  const cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1 });
  const startupMs = performance.now() - startedMs;
  const client = clusterClient(cluster);
  try {
    assert.ok(startupMs < 10_000, `cluster start took ${startupMs.toFixed(0)} ms`);
    assert.equal(cluster.nodes.length, 6);
    assert.equal(cluster.primaries().length, 3);
    assert.equal(cluster.replicas().length, 3);
    for (const node of cluster.nodes) {
      const info = await node.server.cli('CLUSTER', 'INFO');
      assert.match(info, /cluster_state:ok/);
      assert.match(info, /cluster_slots_ok:16384/);
      assert.match(node.id, /^[0-9a-f]{40}$/);
    }
    for (const replica of cluster.replicas()) {
      assert.ok(
        cluster.primaries().some((p) => p.id === replica.primaryId),
        `replica ${replica.port} has a primary`,
      );
    }

    for (const key of ['foo', '{user1}.a', '{}.a', 'a{b}c{d}', 'ключ', 'redis-probe:canary']) {
      assert.equal(await cluster.nodes[0]!.server.cli('CLUSTER', 'KEYSLOT', key), String(keySlot(key)), key);
    }
    const slot = keySlot('foo');
    const owner = await cluster.nodeOwningSlot(slot);
    assert.equal(owner.role, 'primary');
    assert.equal(await client.set('foo', 'bar'), 'OK');
    assert.equal(await owner.server.cli('GET', 'foo'), 'bar', 'the owning primary holds the key');
    const other = cluster.primaries().find((p) => p !== owner)!;
    await assert.rejects(other.server.call('GET', 'foo'), /^ReplyError: MOVED 12182 127\.0\.0\.1:\d+$/);

    const replica = cluster.replicas().find((r) => r.primaryId === owner.id)!;
    const failoverStartedMs = performance.now();
    await cluster.failover(replica);
    const failoverMs = performance.now() - failoverStartedMs;
    assert.ok(failoverMs < 10_000, `failover took ${failoverMs.toFixed(0)} ms`);
    assert.equal(replica.role, 'primary');
    assert.equal(owner.role, 'replica');
    assert.equal((await cluster.nodeOwningSlot(slot)).port, replica.port);
    assert.equal(await replica.server.cli('GET', 'foo'), 'bar', 'data survived the failover');
    assert.equal(await client.get('foo'), 'bar', 'the cluster client follows the MOVED');
    assert.equal(cluster.primaries().length, 3);
  } finally {
    client.disconnect();
    await cluster.stop();
  }
});

test('a TLS cluster with a password serves an ioredis Cluster client', { timeout: 40_000 }, async () => {
  const certDir = await mkdtemp(join(tmpdir(), 'redis-probe-certs-'));
  try {
    const tls = await generateTlsCerts(certDir);
    const cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 0, tls, password: 'cluster-pw' });
    const client = clusterClient(cluster);
    try {
      assert.equal(cluster.primaries().length, 3);
      assert.equal(cluster.replicas().length, 0);
      assert.equal(await cluster.nodes[0]!.server.cli('CONFIG', 'GET', 'tls-cluster'), 'tls-cluster\nyes');
      for (let i = 0; i < 10; i += 1) assert.equal(await client.set(`k${i}`, String(i)), 'OK');
      assert.equal(await client.get('k7'), '7');
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  } finally {
    await rm(certDir, { recursive: true, force: true });
  }
});
