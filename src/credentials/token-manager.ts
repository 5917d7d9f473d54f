/**
 * Keeps one Entra access token fresh for one credential and presents it as a `Credential`.
 * Generic over where tokens come from (an `IdentityProvider`); all time comes from the Clock.
 */
import { MAX_TIMER_DELAY_MS } from '../shared/clock.ts';
import type { Clock, TimerHandle } from '../shared/clock.ts';
import { CredentialUnavailableError } from './credential.ts';
import type { Credential, RedisAuth } from './credential.ts';
import { TokenClaimsError, readTokenClaims } from './jwt-claims.ts';
import { backoffDelayMs, validateBackoff } from '../shared/backoff.ts';
import type { BackoffPolicy } from '../shared/backoff.ts';
import { DEFAULT_REFRESH_BEFORE_EXPIRY_MS, refreshAtMs } from './refresh-policy.ts';
import { TokenRequestError, checkTokenAnswer, requestWithTimeout, toTokenRequestError } from './token-request.ts';
import type { AccessTokenResult, IdentityProvider } from './token-request.ts';

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
    expiryTimer = clock.setTimeout(
      () => {
        expiryTimer = undefined;
        if (closed || held !== token) return;
        // A lifetime beyond setTimeout's range fires early: wait again.
        if (clock.now() < token.expiresAtMs) scheduleExpiry(token);
        else emit(observer?.onTokenExpired, { credential: name });
      },
      clampDelay(token.expiresAtMs - clock.now()),
    );
    expiryTimer.unref?.();
  }

  /** Validates a provider answer into a token to hold; throws TokenRequestError. */
  function accept(result: AccessTokenResult, nowMs: number): HeldToken {
    // Any provider's answer, scripted fakes included, is checked here; @azure/identity's also on its way in.
    const answer = checkTokenAnswer(result, `${label}: the identity provider`, nowMs);
    let principal = options.username;
    if (principal === undefined) {
      let oid: string | undefined;
      let why = 'it has no oid claim';
      try {
        oid = readTokenClaims(answer.token).oid;
      } catch (error) {
        // TokenClaimsError messages describe the token's shape only; anything else is not repeated.
        why = error instanceof TokenClaimsError ? error.message : 'it could not be read';
      }
      if (oid === undefined) {
        throw new TokenRequestError(`${label}: cannot take the Redis username from the token (${why}); set \`username\` for this credential`, {
          kind: 'no_principal',
          isRetryable: false,
        });
      }
      principal = oid;
    }
    return {
      auth: { username: principal, password: answer.token },
      principal,
      issuedAtMs: nowMs,
      expiresAtMs: answer.expiresAtMs,
      ...(answer.refreshAfterMs !== undefined ? { refreshAfterMs: answer.refreshAfterMs } : {}),
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
        const why = lastError !== undefined ? lastError.message : started ? 'the first token request is still running' : 'the token manager was not started';
        throw new CredentialUnavailableError(`${label} has no token yet: ${why}`);
      }
      if (!isUsable(held)) {
        const why = lastError !== undefined ? `; last refresh failed: ${lastError.message}` : '';
        throw new CredentialUnavailableError(`${label}: the token expired at ${new Date(held.expiresAtMs).toISOString()}${why}`);
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
