import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, backoffDelayMs, validateBackoff } from '../../src/shared/backoff.ts';
import type { BackoffPolicy } from '../../src/shared/backoff.ts';

describe('backoffDelayMs', { timeout: 10_000 }, () => {
  const exact: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, multiplier: 2, jitter: 'none' };

  it('grows exponentially and stops at maxMs', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 100, 10_000].map((n) => backoffDelayMs(n, exact, () => 0.5));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('treats attempt numbers below 1 or non-finite as the first attempt', () => {
    assert.equal(
      backoffDelayMs(0, exact, () => 0),
      1000,
    );
    assert.equal(
      backoffDelayMs(-3, exact, () => 0),
      1000,
    );
    assert.equal(
      backoffDelayMs(Number.NaN, exact, () => 0),
      1000,
    );
  });

  it('full jitter spreads between initialMs and the exponential delay', () => {
    const full: BackoffPolicy = { ...exact, jitter: 'full' };
    assert.equal(
      backoffDelayMs(4, full, () => 0),
      1000,
    );
    assert.equal(
      backoffDelayMs(4, full, () => 0.5),
      4500,
    );
    assert.equal(
      backoffDelayMs(4, full, () => 0.999_999),
      8000,
    );
    assert.equal(
      backoffDelayMs(1, full, () => 0.7),
      1000,
    );
  });

  it('proportional jitter scales by 1 ± ratio and stays within bounds', () => {
    const proportional: BackoffPolicy = { ...exact, jitter: 0.2 };
    assert.equal(
      backoffDelayMs(3, proportional, () => 0),
      3200,
    );
    assert.equal(
      backoffDelayMs(3, proportional, () => 0.5),
      4000,
    );
    assert.equal(
      backoffDelayMs(3, proportional, () => 1),
      4800,
    );
    // At the cap the upward jitter is cut off, and at the floor the downward one.
    assert.equal(
      backoffDelayMs(20, proportional, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelayMs(20, proportional, () => 0),
      24_000,
    );
    assert.equal(
      backoffDelayMs(1, proportional, () => 0),
      1000,
    );
  });

  it('survives a misbehaving random source', () => {
    const full: BackoffPolicy = { ...exact, jitter: 'full' };
    assert.equal(
      backoffDelayMs(3, full, () => Number.NaN),
      1000,
    );
    assert.equal(
      backoffDelayMs(3, full, () => 7),
      4000,
    );
    assert.equal(
      backoffDelayMs(3, full, () => -1),
      1000,
    );
  });

  it('rejects invalid policies with the field name', () => {
    assert.throws(() => validateBackoff({ ...exact, initialMs: 0 }), /initialMs/);
    assert.throws(() => validateBackoff({ ...exact, maxMs: 500 }), /maxMs/);
    assert.throws(() => validateBackoff({ ...exact, multiplier: 0.5 }), /multiplier/);
    assert.throws(() => validateBackoff({ ...exact, jitter: 1.5 }), /jitter/);
    assert.throws(() => backoffDelayMs(1, { ...exact, initialMs: Number.NaN }, () => 0), RangeError);
    assert.doesNotThrow(() => validateBackoff(DEFAULT_BACKOFF));
  });

  it('property: every delay is a whole number within [initialMs, maxMs]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.oneof(fc.constant<'full'>('full'), fc.constant<'none'>('none'), fc.double({ min: 0, max: 1, noNaN: true })),
        fc.integer({ min: -5, max: 5000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialMs, extraMs, multiplier, jitter, attempt, r) => {
          const policy: BackoffPolicy = { initialMs, maxMs: initialMs + extraMs, multiplier, jitter };
          const delay = backoffDelayMs(attempt, policy, () => r);
          assert.ok(Number.isInteger(delay));
          assert.ok(delay >= initialMs && delay <= policy.maxMs, `${delay} outside [${initialMs}, ${policy.maxMs}]`);
        },
      ),
    );
  });

  it('property: without jitter the delay never shrinks as attempts grow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 200 }), (initialMs, attempt) => {
        const policy: BackoffPolicy = { initialMs, maxMs: initialMs * 100, multiplier: 1.7, jitter: 'none' };
        assert.ok(backoffDelayMs(attempt + 1, policy, Math.random) >= backoffDelayMs(attempt, policy, Math.random));
      }),
    );
  });
});
