import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ordinalFromHostname, ownedTargets, ownsTarget, shardOf } from '../../src/config/shard.ts';

/** Target names as people write them: letters, digits and the separators the config allows. */
const targetName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}$/);
const distinctNames = (min: number, max: number) => fc.uniqueArray(targetName, { minLength: min, maxLength: max });

describe('shard assignment (rendezvous hashing)', () => {
  it('every target is owned by exactly one shard, for any count', () => {
    fc.assert(
      fc.property(distinctNames(1, 60), fc.integer({ min: 1, max: 32 }), (names, count) => {
        for (const name of names) {
          const owners = Array.from({ length: count }, (_, index) => index).filter((index) => ownsTarget(name, { index, count }));
          assert.deepEqual(owners, [shardOf(name, count)], name);
        }
        // The shards' lists partition the targets.
        const lists = Array.from({ length: count }, (_, index) =>
          ownedTargets(
            names.map((name) => ({ name })),
            { index, count },
          ),
        );
        assert.equal(lists.flat().length, names.length);
      }),
      { numRuns: 200 },
    );
  });

  it('spreads targets evenly: every shard within 25% of its fair share of 4000 targets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.string({ minLength: 1, maxLength: 6 }), (count, prefix) => {
        const tally = new Array<number>(count).fill(0);
        const total = 4000;
        for (let n = 0; n < total; n++) tally[shardOf(`${prefix}-cache-${n}`, count)]! += 1;
        const fair = total / count;
        // 25% of a fair share is at least 6 standard deviations here: a failure means the hash is biased.
        for (const owned of tally) assert.ok(Math.abs(owned - fair) <= 0.25 * fair, `tally ${tally.join(', ')} for ${count} shards`);
      }),
      { numRuns: 20 },
    );
  });

  it('adding a shard only moves targets to the new shard, about 1/(n+1) of them', () => {
    fc.assert(
      fc.property(distinctNames(200, 400), fc.integer({ min: 1, max: 12 }), (names, count) => {
        let moved = 0;
        for (const name of names) {
          const before = shardOf(name, count);
          const after = shardOf(name, count + 1);
          if (before !== after) {
            moved += 1;
            assert.equal(after, count, `${name} moved between old shards (${before} → ${after})`);
          }
        }
        const expected = names.length / (count + 1);
        assert.ok(moved <= expected * 1.6 + 10, `${moved} of ${names.length} moved going from ${count} to ${count + 1} (expected ~${expected.toFixed(0)})`);
      }),
      { numRuns: 50 },
    );
  });

  it('is pinned: the same names land on the same shards in every version (replicas must agree)', () => {
    const names = ['orders-cache', 'sessions-amr', 'inventory', 'payments-eu', 'payments-us', 'catalog', 'search', 'carts'];
    assert.deepEqual(
      names.map((name) => shardOf(name, 3)),
      PINNED_3,
    );
    assert.deepEqual(
      names.map((name) => shardOf(name, 4)),
      PINNED_4,
    );
  });

  it('one shard (or none) owns everything; a bad count is refused', () => {
    assert.equal(shardOf('anything', 1), 0);
    assert.ok(ownsTarget('anything', undefined));
    assert.ok(ownsTarget('anything', { index: 0, count: 1 }));
    assert.throws(() => shardOf('x', 0), RangeError);
    assert.throws(() => shardOf('x', 1.5), RangeError);
  });
});

describe('ordinalFromHostname', () => {
  it('reads the StatefulSet ordinal from a pod name or FQDN', () => {
    assert.equal(ordinalFromHostname('redis-probe-0'), 0);
    assert.equal(ordinalFromHostname('redis-probe-12'), 12);
    assert.equal(ordinalFromHostname('redis-probe-2.redis-probe-headless.redis-probe.svc.cluster.local'), 2);
    assert.equal(ordinalFromHostname('redis-probe-7d9f8b6c4-xk2lp'), undefined, 'a Deployment pod has no ordinal');
    assert.equal(ordinalFromHostname('laptop'), undefined);
    assert.equal(ordinalFromHostname(''), undefined);
  });
});

// Computed once from the implementation and frozen: a change here means replicas of different versions disagree.
const PINNED_3 = [0, 2, 2, 2, 0, 1, 2, 1];
const PINNED_4 = [0, 2, 2, 2, 0, 3, 2, 1];
