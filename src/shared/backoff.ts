/** How long to wait before retry number n: exponential, capped, with injected jitter. Pure maths, no clock. */

/** Exponential backoff between failed attempts. */
export interface BackoffPolicy {
  /** Delay before the first retry, and the floor of every delay. */
  readonly initialMs: number;
  /** Upper bound of every delay. */
  readonly maxMs: number;
  /** Growth per attempt (>= 1). */
  readonly multiplier: number;
  /**
   * `'full'`: uniform between initialMs and the exponential delay (spreads retries the most);
   * a number r in [0, 1]: proportional, the delay times a uniform factor in [1 - r, 1 + r];
   * `'none'`: the exponential delay exactly.
   */
  readonly jitter: 'full' | 'none' | number;
}

/** A conservative default: 1 s, 2 s, 4 s ... capped at 1 minute, ±20 %. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 };

/** Throws a RangeError naming the first invalid field, so bad config fails at startup. */
export function validateBackoff(policy: BackoffPolicy): void {
  if (!(policy.initialMs > 0)) throw new RangeError(`backoff.initialMs must be > 0, got ${policy.initialMs}`);
  if (!(policy.maxMs >= policy.initialMs)) {
    throw new RangeError(`backoff.maxMs must be >= initialMs (${policy.initialMs}), got ${policy.maxMs}`);
  }
  if (!(policy.multiplier >= 1)) throw new RangeError(`backoff.multiplier must be >= 1, got ${policy.multiplier}`);
  if (typeof policy.jitter === 'number' && !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new RangeError(`backoff.jitter must be 'full', 'none' or a ratio in [0, 1], got ${policy.jitter}`);
  }
}

/**
 * Delay in whole milliseconds before retry number `attempt` (1 = first retry), always within
 * [initialMs, maxMs] so a retry loop can neither spin nor stall. `random` returns [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  validateBackoff(policy);
  const exponent = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 1) - 1);
  // A huge attempt number overflows to Infinity, which min() turns back into maxMs.
  const base = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
  const r = clampUnit(random());
  let delay: number;
  if (policy.jitter === 'full') {
    delay = policy.initialMs + r * (base - policy.initialMs);
  } else if (policy.jitter === 'none') {
    delay = base;
  } else {
    delay = base * (1 - policy.jitter + 2 * policy.jitter * r);
  }
  return Math.round(Math.min(policy.maxMs, Math.max(policy.initialMs, delay)));
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
