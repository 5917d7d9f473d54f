import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_BACKOFF,
  DEFAULT_REFRESH_BEFORE_EXPIRY_MS,
  backoffDelayMs,
  refreshAtMs,
  validateBackoff,
} from '../../src/credentials/refresh-policy.ts';
import type { BackoffPolicy } from '../../src/credentials/refresh-policy.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1);

describe('refreshAtMs', { timeout: 10_000 }, () => {
  it('refreshes 5 minutes before expiry by default', () => {
    assert.equal(DEFAULT_REFRESH_BEFORE_EXPIRY_MS, 5 * MIN);
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 60 * MIN }), T0 + 55 * MIN);
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 24 * 60 * MIN }), T0 + (24 * 60 - 5) * MIN);
  });

  it('uses the configured margin', () => {
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 60 * MIN }, 10 * MIN), T0 + 50 * MIN);
  });

  it('refreshes at half-life when the token lives less than twice the margin', () => {
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 8 * MIN }), T0 + 4 * MIN);
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 5000 }), T0 + 2500);
    // Exactly twice the margin: both rules agree.
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 10 * MIN }), T0 + 5 * MIN);
  });

  it('honours refreshAfterMs when it is earlier, ignores it when later', () => {
    const timing = { issuedAtMs: T0, expiresAtMs: T0 + 24 * 60 * MIN };
    assert.equal(refreshAtMs({ ...timing, refreshAfterMs: T0 + 12 * 60 * MIN }), T0 + 12 * 60 * MIN);
    assert.equal(refreshAtMs({ ...timing, refreshAfterMs: T0 + 24 * 60 * MIN }), T0 + (24 * 60 - 5) * MIN);
  });

  it('never returns a time before the token was received', () => {
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + 60 * MIN, refreshAfterMs: T0 - MIN }), T0);
    assert.equal(refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 - MIN }), T0);
  });

  it('rejects a negative margin', () => {
    assert.throws(() => refreshAtMs({ issuedAtMs: T0, expiresAtMs: T0 + MIN }, -1), RangeError);
  });

  it('property: the refresh time lies within the token lifetime', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 30 * 24 * 60 * MIN }),
        fc.integer({ min: 0, max: 60 * MIN }),
        fc.option(fc.integer({ min: -60 * MIN, max: 30 * 24 * 60 * MIN }), { nil: undefined }),
        (issuedAtMs, lifetimeMs, marginMs, refreshAfterOffset) => {
          const timing = {
            issuedAtMs,
            expiresAtMs: issuedAtMs + lifetimeMs,
            ...(refreshAfterOffset !== undefined ? { refreshAfterMs: issuedAtMs + refreshAfterOffset } : {}),
          };
          const at = refreshAtMs(timing, marginMs);
          assert.ok(at >= issuedAtMs, 'before issue');
          assert.ok(marginMs === 0 ? at <= timing.expiresAtMs : at < timing.expiresAtMs, 'not before expiry');
          if (lifetimeMs >= 2 * marginMs) assert.ok(at <= timing.expiresAtMs - marginMs, 'inside the margin');
        },
      ),
      { examples: [[0, 1, 0, undefined], [T0, 1, 5 * MIN, undefined]] },
    );
  });
});

describe('backoffDelayMs', { timeout: 10_000 }, () => {
  const exact: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, multiplier: 2, jitter: 'none' };

  it('grows exponentially and stops at maxMs', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 100, 10_000].map((n) => backoffDelayMs(n, exact, () => 0.5));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('treats attempt numbers below 1 or non-finite as the first attempt', () => {
    assert.equal(backoffDelayMs(0, exact, () => 0), 1000);
    assert.equal(backoffDelayMs(-3, exact, () => 0), 1000);
    assert.equal(backoffDelayMs(Number.NaN, exact, () => 0), 1000);
  });

  it('full jitter spreads between initialMs and the exponential delay', () => {
    const full: BackoffPolicy = { ...exact, jitter: 'full' };
    assert.equal(backoffDelayMs(4, full, () => 0), 1000);
    assert.equal(backoffDelayMs(4, full, () => 0.5), 4500);
    assert.equal(backoffDelayMs(4, full, () => 0.999_999), 8000);
    assert.equal(backoffDelayMs(1, full, () => 0.7), 1000);
  });

  it('proportional jitter scales by 1 ± ratio and stays within bounds', () => {
    const proportional: BackoffPolicy = { ...exact, jitter: 0.2 };
    assert.equal(backoffDelayMs(3, proportional, () => 0), 3200);
    assert.equal(backoffDelayMs(3, proportional, () => 0.5), 4000);
    assert.equal(backoffDelayMs(3, proportional, () => 1), 4800);
    // At the cap the upward jitter is cut off, and at the floor the downward one.
    assert.equal(backoffDelayMs(20, proportional, () => 1), 30_000);
    assert.equal(backoffDelayMs(20, proportional, () => 0), 24_000);
    assert.equal(backoffDelayMs(1, proportional, () => 0), 1000);
  });

  it('survives a misbehaving random source', () => {
    const full: BackoffPolicy = { ...exact, jitter: 'full' };
    assert.equal(backoffDelayMs(3, full, () => Number.NaN), 1000);
    assert.equal(backoffDelayMs(3, full, () => 7), 4000);
    assert.equal(backoffDelayMs(3, full, () => -1), 1000);
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
