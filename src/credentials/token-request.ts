/**
 * What a token request is, whoever makes it: the IdentityProvider contract, the error every failure
 * becomes (a closed kind, retryable or not, a message without secrets) and the deadline around each call.
 */
import type { Clock } from '../shared/clock.ts';
import { raceTimeout } from '../shared/timeout.ts';

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
export type TokenFailureKind = 'timeout' | 'network' | 'http' | 'rejected' | 'invalid_response' | 'unavailable' | 'no_principal' | 'aborted' | 'unknown';

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
  const aborted = (): TokenRequestError => new TokenRequestError('token request aborted', { kind: 'aborted', isRetryable: true });
  // Already given up: the provider is not even asked.
  if (outer?.aborted) return Promise.reject(aborted());
  const controller = new AbortController();
  // Whichever way the race is lost, the provider's signal says so, with the same error.
  const abortWith = (error: Error): Error => {
    controller.abort(error);
    return error;
  };
  let pending: Promise<T>;
  try {
    pending = work(controller.signal);
  } catch (error) {
    pending = Promise.reject(error);
  }
  return raceTimeout(pending, timeoutMs, clock, {
    onTimeout: () => {
      throw abortWith(onTimeout());
    },
    ...(outer ? { signal: outer } : {}),
    onAbort: () => abortWith(aborted()),
    unref: true,
  });
}

/** A provider's answer as it came, before anything about it is trusted. */
export interface TokenAnswer {
  readonly token?: unknown;
  readonly expiresAtMs?: unknown;
  readonly refreshAfterMs?: unknown;
}

/**
 * The one check of a token answer, for the @azure/identity provider and the token manager alike: a
 * non-empty token, a finite expiry and, given `nowMs`, one still ahead; a refresh hint is kept only when it
 * is a finite number. Otherwise throws a retryable `invalid_response` error that starts with `source`, the
 * words for who answered (`DefaultAzureCredential: the token endpoint`).
 */
export function checkTokenAnswer(answer: TokenAnswer | null | undefined, source: string, nowMs?: number): AccessTokenResult {
  const invalid = (what: string): TokenRequestError => new TokenRequestError(`${source} returned ${what}`, { kind: 'invalid_response', isRetryable: true });
  const token = answer?.token;
  if (typeof token !== 'string' || token === '') throw invalid('no token');
  const expiresAtMs = answer?.expiresAtMs;
  if (typeof expiresAtMs !== 'number' || !Number.isFinite(expiresAtMs)) throw invalid('a token without an expiry');
  if (nowMs !== undefined && expiresAtMs <= nowMs) {
    throw invalid(`a token that had already expired (at ${new Date(expiresAtMs).toISOString()})`);
  }
  const refreshAfterMs = answer?.refreshAfterMs;
  return { token, expiresAtMs, ...(typeof refreshAfterMs === 'number' && Number.isFinite(refreshAfterMs) ? { refreshAfterMs } : {}) };
}
