import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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
    const keys = ['', 'foo', 'redis-probe:orders:pod-1', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', '{}', 'ключ', '{a', 'a}', 'redis-probe:{42}:orders:pod-1'];
    for (const key of keys) {
      assert.equal(keySlot(key), Number(await server.cli('CLUSTER', 'KEYSLOT', key)), `slot of ${JSON.stringify(key)}`);
    }
  });

  it('agrees with the test harness for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (key) => keySlot(key) === harnessKeySlot(key)), { numRuns: 2000 });
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
    const split = [{ start: 0, end: 0 }, { start: 16383, end: 16383 }];
    assert.ok([0, 16383].includes(keySlot(`{${hashTagForRanges(split)}}`)));
  });

  it('refuses empty or impossible ranges instead of looping', () => {
    assert.throws(() => hashTagForRanges([]), RangeError);
    assert.throws(() => hashTagForRanges([{ start: 20000, end: 30000 }]), RangeError);
  });
});
