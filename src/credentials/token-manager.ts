/**
 * Keeps one Entra access token fresh for one credential and presents it as a `Credential`.
 * Generic over where tokens come from (an `IdentityProvider`); all time comes from the Clock.
 */
import type { Clock, TimerHandle } from '../shared/clock.ts';
import { CredentialUnavailableError } from './credential.ts';
import type { Credential, RedisAuth } from './credential.ts';
import { TokenClaimsError, readTokenClaims } from './jwt-claims.ts';
import { DEFAULT_REFRESH_BEFORE_EXPIRY_MS, backoffDelayMs, refreshAtMs, validateBackoff } from './refresh-policy.ts';
import type { BackoffPolicy } from './refresh-policy.ts';

/** A token as an identity provider hands it over (epoch milliseconds). */
export interface AccessTokenResult {
  readonly token: string;
  readonly expiresAtMs: number;
  /** The issuer's hint to refresh before this time (@azure/core-auth `refreshAfterTimestamp`). */
  readonly refreshAfterMs?: number;
}

/** Options for one token request. */
export interface TokenRequestOptions {
  /** Aborted when the caller gives up (timeout, close); providers should stop work. */
  readonly abortSignal?: AbortSignal;
}

/** Where tokens come from: @azure/identity in production, a scripted fake in tests. */
export interface IdentityProvider {
  /** Rejects with a TokenRequestError; any other rejection is treated as retryable and unknown. */
  requestToken(options?: TokenRequestOptions): Promise<AccessTokenResult>;
}

/** Closed set of token failure causes: safe as a metric label. */
export type TokenFailureKind =
  | 'timeout'
  | 'network'
  | 'http'
  | 'rejected'
  | 'invalid_response'
  | 'unavailable'
  | 'no_principal'
  | 'aborted'
  | 'unknown';

/** The detail a TokenRequestError carries besides its message. */
export interface TokenRequestErrorDetails {
  readonly kind: TokenFailureKind;
  readonly isRetryable: boolean;
  readonly httpStatus?: number;
}

/**
 * A token could not be obtained. The message is built only from safe parts (class names,
 * error codes, HTTP status), never from response bodies, so it cannot carry a token or secret.
 */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
  readonly kind: TokenFailureKind;
  readonly isRetryable: boolean;
  readonly httpStatus?: number;

  constructor(message: string, details: TokenRequestErrorDetails) {
    super(message);
    this.kind = details.kind;
    this.isRetryable = details.isRetryable;
    if (details.httpStatus !== undefined) this.httpStatus = details.httpStatus;
  }
}

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Wraps anything a provider threw; a foreign message may quote a response body, so only the class name survives. */
export function toTokenRequestError(error: unknown): TokenRequestError {
  if (error instanceof TokenRequestError) return error;
  const name = error instanceof Error && SAFE_NAME.test(error.name) ? error.name : typeof error;
  return new TokenRequestError(`token request failed: ${name}`, { kind: 'unknown', isRetryable: true });
}

/**
 * Runs `work` with an AbortSignal and rejects with `onTimeout()` after `timeoutMs` on `clock`,
 * whether or not `work` honours the signal. Also rejects (kind `aborted`) when `outer` aborts.
 * The timer is always cleared; a late settlement of `work` is swallowed.
 */
export function requestWithTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  onTimeout: () => Error,
  outer?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (outer?.aborted) {
      reject(new TokenRequestError('token request aborted', { kind: 'aborted', isRetryable: true }));
      return;
    }
    const controller = new AbortController();
    let settled = false;
    const fail = (error: Error): void => {
      finish();
      controller.abort(error);
      reject(error);
    };
    const onOuterAbort = (): void => {
      if (!settled) fail(new TokenRequestError('token request aborted', { kind: 'aborted', isRetryable: true }));
    };
    const timer = clock.setTimeout(() => {
      if (!settled) fail(onTimeout());
    }, timeoutMs);
    timer.unref?.();
    function finish(): void {
      settled = true;
      clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let pending: Promise<T>;
    try {
      pending = work(controller.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        reject(error);
      },
    );
  });
}

/** Emitted when a new token (later expiry than the previous one) was accepted. */
export interface TokenAcquiredEvent {
  readonly credential: string;
  readonly expiresAtMs: number;
  /** The Redis username in use (configured, or the token's oid). */
  readonly principal: string;
  readonly durationMs: number;
  /** True when this replaced an earlier token (a rotation), false for the first one. */
  readonly renewed: boolean;
}

/** Emitted after every failed attempt, with when the next one will run. */
export interface RefreshFailedEvent {
  readonly credential: string;
  readonly error: TokenRequestError;
  /** 1 for the first failure in a row. */
  readonly attempt: number;
  readonly nextRetryInMs: number;
  /** A previously acquired token is still usable, so nothing is broken yet. */
  readonly tokenStillValid: boolean;
  readonly durationMs: number;
}

/** Emitted when the current token expired without a replacement. */
export interface TokenExpiredEvent {
  readonly credential: string;
}

/** Hooks for metrics and logs; all optional, and a throwing hook never disturbs the manager. */
export interface TokenObserver {
  readonly onTokenAcquired?: (event: TokenAcquiredEvent) => void;
  readonly onRefreshFailed?: (event: RefreshFailedEvent) => void;
  readonly onTokenExpired?: (event: TokenExpiredEvent) => void;
  /** An onChange listener threw; the others still ran. */
  readonly onListenerError?: (event: { readonly credential: string; readonly error: unknown }) => void;
}

/** Settings and dependencies of one token manager. */
export interface TokenManagerOptions {
  /** Credential name, used in messages and events. */
  readonly name: string;
  readonly provider: IdentityProvider;
  readonly clock: Clock;
  /** Uniform in [0, 1): drives backoff jitter. */
  readonly random: () => number;
  /** Default 5 minutes; short-lived tokens refresh at half-life instead. */
  readonly refreshBeforeExpiryMs?: number;
  /** Deadline of each token request, enforced here even if the provider hangs. */
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  /** Redis ACL username; when absent the token's `oid` claim is used. */
  readonly username?: string;
  readonly observer?: TokenObserver;
}

/** A Credential backed by rotating Entra tokens. */
export interface TokenManager extends Credential {
  /** Begins acquiring the first token; idempotent. */
  start(): void;
  /** Fetches now, or joins the fetch already in flight; never rejects (the outcome reaches the observer and current()). */
  refreshNow(): Promise<void>;
  /**
   * No usable token and a cycle needs one: fetches now, or joins the fetch in flight, or, when the last
   * attempt ended less than `backoff.initialMs` ago, brings the next attempt forward to then. Does nothing
   * after an error that needs a human. Resolves when that attempt ends; never rejects.
   */
  demand(): Promise<void>;
}

/** Floor between two successful fetches, so a pathological token lifetime cannot spin the loop. */
const MIN_REFRESH_DELAY_MS = 1000;
/** setTimeout's limit; a longer delay would fire at once. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

interface HeldToken {
  readonly auth: RedisAuth;
  readonly principal: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly refreshAfterMs?: number;
}

export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { name, provider, clock, random, backoff, observer } = options;
  const refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
  const requestTimeoutMs = options.requestTimeoutMs;
  validateBackoff(backoff);
  if (!(requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutMs must be > 0, got ${requestTimeoutMs}`);
  if (!(refreshBeforeExpiryMs >= 0)) {
    throw new RangeError(`refreshBeforeExpiryMs must be >= 0, got ${refreshBeforeExpiryMs}`);
  }
  const label = `Entra credential "${name}"`;

  let held: HeldToken | undefined;
  let inFlight: Promise<void> | undefined;
  let inFlightAbort: AbortController | undefined;
  let refreshTimer: TimerHandle | undefined;
  // Monotonic time at which refreshTimer fires.
  let refreshDueAtMs: number | undefined;
  let lastAttemptEndedAtMs: number | undefined;
  // Cycles waiting for an attempt that demand() brought forward; settled when that attempt ends.
  let demanded: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;
  let expiryTimer: TimerHandle | undefined;
  let consecutiveFailures = 0;
  // Successful answers that brought no newer token (an SDK cache hit): spaces out the next ask.
  let unchangedAnswers = 0;
  let lastError: TokenRequestError | undefined;
  let started = false;
  let closed = false;
  const listeners = new Set<(auth: RedisAuth) => void>();

  let resolveReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  function emit<E>(hook: ((event: E) => void) | undefined, event: E): void {
    if (hook === undefined) return;
    try {
      hook.call(observer, event);
    } catch {
      // Observers are metrics and logs: their bugs must not stop token rotation.
    }
  }

  function isUsable(token: HeldToken | undefined): boolean {
    return token !== undefined && clock.now() < token.expiresAtMs;
  }

  function clampDelay(delayMs: number): number {
    return Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(delayMs)));
  }

  function scheduleFetch(delayMs: number): void {
    if (closed) return;
    if (refreshTimer !== undefined) clock.clearTimeout(refreshTimer);
    const clampedMs = clampDelay(delayMs);
    refreshDueAtMs = clock.monotonicMs() + clampedMs;
    refreshTimer = clock.setTimeout(() => {
      refreshTimer = undefined;
      refreshDueAtMs = undefined;
      void refreshNow();
    }, clampedMs);
    refreshTimer.unref?.();
  }

  function scheduleExpiry(token: HeldToken): void {
    if (expiryTimer !== undefined) clock.clearTimeout(expiryTimer);
    expiryTimer = clock.setTimeout(() => {
      expiryTimer = undefined;
      if (closed || held !== token) return;
      // A lifetime beyond setTimeout's range fires early: wait again.
      if (clock.now() < token.expiresAtMs) scheduleExpiry(token);
      else emit(observer?.onTokenExpired, { credential: name });
    }, clampDelay(token.expiresAtMs - clock.now()));
    expiryTimer.unref?.();
  }

  /** Validates a provider answer into a token to hold; throws TokenRequestError. */
  function accept(result: AccessTokenResult, nowMs: number): HeldToken {
    if (typeof result.token !== 'string' || result.token === '') {
      throw new TokenRequestError(`${label}: the identity provider returned no token`, {
        kind: 'invalid_response',
        isRetryable: true,
      });
    }
    if (typeof result.expiresAtMs !== 'number' || !Number.isFinite(result.expiresAtMs)) {
      throw new TokenRequestError(`${label}: the identity provider returned a token without an expiry`, {
        kind: 'invalid_response',
        isRetryable: true,
      });
    }
    if (result.expiresAtMs <= nowMs) {
      throw new TokenRequestError(
        `${label}: the identity provider returned a token that had already expired (at ${new Date(result.expiresAtMs).toISOString()})`,
        { kind: 'invalid_response', isRetryable: true },
      );
    }
    let principal = options.username;
    if (principal === undefined) {
      let oid: string | undefined;
      let why = 'it has no oid claim';
      try {
        oid = readTokenClaims(result.token).oid;
      } catch (error) {
        // TokenClaimsError messages describe the token's shape only; anything else is not repeated.
        why = error instanceof TokenClaimsError ? error.message : 'it could not be read';
      }
      if (oid === undefined) {
        throw new TokenRequestError(
          `${label}: cannot take the Redis username from the token (${why}); set \`username\` for this credential`,
          { kind: 'no_principal', isRetryable: false },
        );
      }
      principal = oid;
    }
    return {
      auth: { username: principal, password: result.token },
      principal,
      issuedAtMs: nowMs,
      expiresAtMs: result.expiresAtMs,
      ...(typeof result.refreshAfterMs === 'number' && Number.isFinite(result.refreshAfterMs)
        ? { refreshAfterMs: result.refreshAfterMs }
        : {}),
    };
  }

  function nextRefreshDelayMs(token: HeldToken, nowMs: number): number {
    return refreshAtMs(token, refreshBeforeExpiryMs) - nowMs;
  }

  function onSuccess(token: HeldToken, durationMs: number): void {
    const previous = held;
    const nowMs = token.issuedAtMs;
    consecutiveFailures = 0;
    lastError = undefined;
    if (previous !== undefined && token.expiresAtMs <= previous.expiresAtMs) {
      // Not newer (an SDK cache hit): keep the current token, notify nobody, and ask again
      // no sooner than backoff.initialMs, backing off, but within half the time it has left.
      unchangedAnswers += 1;
      const waitMs = backoffDelayMs(unchangedAnswers, backoff, random);
      const halfLeftMs = Math.max(backoff.initialMs, (previous.expiresAtMs - nowMs) / 2);
      scheduleFetch(Math.max(nextRefreshDelayMs(previous, nowMs), Math.min(waitMs, halfLeftMs)));
      return;
    }
    unchangedAnswers = 0;
    held = token;
    scheduleFetch(Math.max(MIN_REFRESH_DELAY_MS, nextRefreshDelayMs(token, nowMs)));
    scheduleExpiry(token);
    emit(observer?.onTokenAcquired, {
      credential: name,
      expiresAtMs: token.expiresAtMs,
      principal: token.principal,
      durationMs,
      renewed: previous !== undefined,
    });
    for (const listener of [...listeners]) {
      try {
        listener(token.auth);
      } catch (error) {
        emit(observer?.onListenerError, { credential: name, error });
      }
    }
  }

  function onFailure(error: TokenRequestError, durationMs: number): void {
    consecutiveFailures += 1;
    lastError = error;
    const tokenStillValid = isUsable(held);
    // Retryable errors back off; while no token is usable, cycles that need one also ask for it (demand),
    // so the first cycle after the endpoint's return succeeds. An error that needs a human waits the
    // longest delay, however urgent: never give up, never hammer.
    const delayMs = error.isRetryable ? backoffDelayMs(consecutiveFailures, backoff, random) : backoff.maxMs;
    scheduleFetch(delayMs);
    emit(observer?.onRefreshFailed, {
      credential: name,
      error,
      attempt: consecutiveFailures,
      nextRetryInMs: delayMs,
      tokenStillValid,
      durationMs,
    });
  }

  async function fetchOnce(): Promise<void> {
    const abort = new AbortController();
    inFlightAbort = abort;
    const startedMs = clock.monotonicMs();
    let outcome: { readonly token: HeldToken } | { readonly error: TokenRequestError };
    try {
      const result = await requestWithTimeout(
        clock,
        requestTimeoutMs,
        (signal) => provider.requestToken({ abortSignal: signal }),
        () =>
          new TokenRequestError(`${label}: token request timed out after ${requestTimeoutMs} ms`, {
            kind: 'timeout',
            isRetryable: true,
          }),
        abort.signal,
      );
      outcome = { token: accept(result, clock.now()) };
    } catch (error) {
      outcome = { error: toTokenRequestError(error) };
    }
    // Settle the in-flight state before anyone awaiting ready() or refreshNow() looks at current().
    inFlight = undefined;
    inFlightAbort = undefined;
    lastAttemptEndedAtMs = clock.monotonicMs();
    if (!closed) {
      const durationMs = clock.monotonicMs() - startedMs;
      if ('token' in outcome) onSuccess(outcome.token, durationMs);
      else onFailure(outcome.error, durationMs);
    }
    resolveReady();
  }

  function refreshNow(): Promise<void> {
    if (closed) return Promise.resolve();
    if (inFlight !== undefined) return inFlight;
    if (refreshTimer !== undefined) {
      clock.clearTimeout(refreshTimer);
      refreshTimer = undefined;
      refreshDueAtMs = undefined;
    }
    // fetchOnce always awaits before clearing inFlight, so this assignment comes first.
    inFlight = fetchOnce();
    const waiting = demanded;
    demanded = undefined;
    if (waiting !== undefined) void inFlight.then(waiting.resolve);
    return inFlight;
  }

  function demand(): Promise<void> {
    if (closed || !started || isUsable(held)) return Promise.resolve();
    if (inFlight !== undefined) return inFlight;
    // Bad client id, no principal: asking again will not help until a human acts; keep the slow cadence.
    if (lastError !== undefined && !lastError.isRetryable) return Promise.resolve();
    const nowMs = clock.monotonicMs();
    // However many targets ask, attempts stay backoff.initialMs apart.
    const earliestMs = lastAttemptEndedAtMs === undefined ? nowMs : lastAttemptEndedAtMs + backoff.initialMs;
    if (earliestMs <= nowMs) return refreshNow();
    if (refreshDueAtMs === undefined || refreshDueAtMs > earliestMs) scheduleFetch(earliestMs - nowMs);
    if (demanded === undefined) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((settle) => {
        resolve = settle;
      });
      demanded = { promise, resolve };
    }
    return demanded.promise;
  }

  return {
    name,
    start() {
      if (started || closed) return;
      started = true;
      void refreshNow();
    },
    refreshNow,
    demand,
    current() {
      if (closed) throw new CredentialUnavailableError(`${label} is closed`);
      if (held === undefined) {
        const why = lastError !== undefined
          ? lastError.message
          : started ? 'the first token request is still running' : 'the token manager was not started';
        throw new CredentialUnavailableError(`${label} has no token yet: ${why}`);
      }
      if (!isUsable(held)) {
        const why = lastError !== undefined ? `; last refresh failed: ${lastError.message}` : '';
        throw new CredentialUnavailableError(
          `${label}: the token expired at ${new Date(held.expiresAtMs).toISOString()}${why}`,
        );
      }
      return held.auth;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    ready: () => readyPromise,
    close() {
      if (closed) return;
      closed = true;
      if (refreshTimer !== undefined) clock.clearTimeout(refreshTimer);
      if (expiryTimer !== undefined) clock.clearTimeout(expiryTimer);
      refreshTimer = undefined;
      expiryTimer = undefined;
      demanded?.resolve();
      demanded = undefined;
      inFlightAbort?.abort();
      listeners.clear();
      resolveReady();
    },
  };
}
