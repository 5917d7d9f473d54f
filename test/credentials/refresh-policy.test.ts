import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_REFRESH_BEFORE_EXPIRY_MS, refreshAtMs } from '../../src/credentials/refresh-policy.ts';

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
      {
        examples: [
          [0, 1, 0, undefined],
          [T0, 1, 5 * MIN, undefined],
        ],
      },
    );
  });
});
