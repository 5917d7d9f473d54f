/** When to refresh a token: pure maths, no clock. (How long to wait after a failure is shared/backoff.ts.) */

/** Refresh this long before expiry unless the token is too short-lived for it. */
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/** The timing facts of a token that decide its refresh time (epoch milliseconds). */
export interface TokenTiming {
  /** When the token was received (local clock, so server clock skew does not matter). */
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  /** The issuer's hint to refresh early (@azure/core-auth `refreshAfterTimestamp`). */
  readonly refreshAfterMs?: number;
}

/**
 * Epoch milliseconds at which to fetch a replacement: `refreshBeforeExpiryMs` ahead of expiry,
 * or at half the lifetime when the token lives less than twice that (a 5-minute margin on a
 * 6-minute token would refresh almost at once), or at `refreshAfterMs` when that is earlier.
 * Never before `issuedAtMs`.
 */
export function refreshAtMs(timing: TokenTiming, refreshBeforeExpiryMs: number = DEFAULT_REFRESH_BEFORE_EXPIRY_MS): number {
  if (!(refreshBeforeExpiryMs >= 0)) {
    throw new RangeError(`refreshBeforeExpiryMs must be >= 0, got ${refreshBeforeExpiryMs}`);
  }
  const lifetimeMs = timing.expiresAtMs - timing.issuedAtMs;
  let at = lifetimeMs < 2 * refreshBeforeExpiryMs ? timing.issuedAtMs + lifetimeMs / 2 : timing.expiresAtMs - refreshBeforeExpiryMs;
  if (timing.refreshAfterMs !== undefined && Number.isFinite(timing.refreshAfterMs) && timing.refreshAfterMs < at) {
    at = timing.refreshAfterMs;
  }
  return Math.max(timing.issuedAtMs, at);
}
