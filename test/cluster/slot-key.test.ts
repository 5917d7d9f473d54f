import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { CLUSTER_SLOT_COUNT, crc16, hashTagForRanges, keySlot, slotInRanges } from '../../src/cluster/slot-key.ts';
import { keySlot as harnessKeySlot } from '../support/redis-cluster.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';

let server: RedisServer;
before(async () => {
  // A lone cluster-enabled server answers CLUSTER KEYSLOT without any slots assigned.
  server = await startRedis({ cluster: {} });
});
after(async () => {
  await server.stop();
});

describe('cluster key slots', { timeout: 30_000 }, () => {
  it('CRC16/XMODEM gives the reference check value', () => {
    // The standard check input for CRC catalogues, and the example of the Redis Cluster spec.
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  it('agrees with redis-server CLUSTER KEYSLOT, hash tags included', async () => {
    const keys = [
      '',
      'foo',
      'redis-probe:orders:pod-1',
      '{user1000}.following',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{}',
      'ключ',
      '{a',
      'a}',
      'redis-probe:{42}:orders:pod-1',
    ];
    for (const key of keys) {
      assert.equal(keySlot(key), Number(await server.cli('CLUSTER', 'KEYSLOT', key)), `slot of ${JSON.stringify(key)}`);
    }
  });

  it('agrees with the test harness for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (key) => keySlot(key) === harnessKeySlot(key)),
      { numRuns: 2000 },
    );
  });

  it('picks a tag whose slot lies in the ranges, the same one every time', () => {
    const ranges = [{ start: 5461, end: 10922 }];
    const tag = hashTagForRanges(ranges);
    assert.ok(slotInRanges(keySlot(`redis-probe:{${tag}}:orders:pod`), ranges));
    assert.equal(hashTagForRanges(ranges), tag);
  });

  it('finds a tag for every single slot, and for ranges split in pieces', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: CLUSTER_SLOT_COUNT - 1 }), (slot) => keySlot(`{${hashTagForRanges([{ start: slot, end: slot }])}}`) === slot),
      { numRuns: 200 },
    );
    const split = [
      { start: 0, end: 0 },
      { start: 16383, end: 16383 },
    ];
    assert.ok([0, 16383].includes(keySlot(`{${hashTagForRanges(split)}}`)));
  });

  it('refuses empty or impossible ranges instead of looping', () => {
    assert.throws(() => hashTagForRanges([]), RangeError);
    assert.throws(() => hashTagForRanges([{ start: 20000, end: 30000 }]), RangeError);
  });
});

/**
 * The hash tag the archived `cluster-key-slot` npm package (1.1.x, the one ioredis depends on) takes, restated
 * here to show where it parts from Redis: after the first `{`, every byte up to the next `}`, except that a `}`
 * right after the `{` is skipped instead of ending an empty tag. Redis (and keySlot) hash the whole key then.
 * Undefined: no tag, the whole key is hashed.
 */
function archivedPackageTag(bytes: Buffer): Buffer | undefined {
  const open = bytes.indexOf(0x7b);
  if (open === -1) return undefined;
  const tag: number[] = [];
  for (let index = open + 1; index < bytes.length; index += 1) {
    const byte = bytes[index] ?? 0;
    if (byte !== 0x7d) tag.push(byte);
    else if (index !== open + 1) return Buffer.from(tag);
  }
  return undefined;
}

function archivedPackageSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  return crc16(archivedPackageTag(bytes) ?? bytes) % CLUSTER_SLOT_COUNT;
}

/** CLUSTER KEYSLOT of every key, in one pipeline over one connection. */
async function serverSlots(keys: readonly string[]): Promise<number[]> {
  const client = new Redis({ ...server.clientOptions(), lazyConnect: true });
  try {
    await client.connect();
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.call('CLUSTER', 'KEYSLOT', key);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, slot]) => {
      if (error) throw error;
      return Number(slot);
    });
  } finally {
    client.disconnect();
  }
}

describe('keySlot against a real redis-server', { timeout: 60_000 }, () => {
  // Keys where Redis's rule (the first `{`, the first `}` after it, hash only a non-empty part between) and the
  // archived cluster-key-slot package's disagree: an empty `{}` followed by more braces.
  const PACKAGE_DISAGREES = ['foo{}{bar}', 'foo{}}', '{}{}', '{}}x', 'redis-probe:{}{42}:orders', 'ключ{}{значение}'];
  const EDGES = [
    '',
    '{}',
    '{a}{b}',
    'a{b',
    'a}b{',
    '{',
    '}',
    '}{',
    '{{}}',
    'foo{{bar}}zap',
    '{user1000}.following',
    '{user1000}.followers',
    'ключ',
    '{ключ}x',
    '東京{都}',
    '😀{🎉}',
    'redis-probe:{42}:orders:pod-1',
  ];

  it('agrees with CLUSTER KEYSLOT on hash-tag edge cases and thousands of generated keys, non-ASCII included', async () => {
    const generated = fc.sample(fc.string({ unit: fc.constantFrom('{', '}', 'a', 'b', ':', 'é', 'ж', '😀'), maxLength: 12 }), { numRuns: 3000, seed: 18 });
    const keys = [...PACKAGE_DISAGREES, ...EDGES, ...generated];
    const slots = await serverSlots(keys);
    const mismatches = keys.filter((key, index) => keySlot(key) !== slots[index]);
    assert.deepEqual(mismatches, []);
  });

  it('agrees with Redis where the archived cluster-key-slot package would not (an empty {} before another tag)', async () => {
    const slots = await serverSlots(PACKAGE_DISAGREES);
    PACKAGE_DISAGREES.forEach((key, index) => {
      assert.equal(keySlot(key), slots[index], `ours, for ${key}`);
      assert.notEqual(archivedPackageSlot(key), slots[index], `the package's rule, for ${key}`);
    });
    // Where the rules coincide, so does the restated package rule: it is not simply wrong everywhere.
    const agreeing = ['{a}{b}', 'a{b', '{}', '{user1000}.following', 'ключ'];
    assert.deepEqual(agreeing.map(archivedPackageSlot), await serverSlots(agreeing));
  });
});
