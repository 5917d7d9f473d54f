import type { Logger } from '../logging/logger.ts';
import type { CredentialMetrics } from '../metrics/probe-metrics.ts';
import type { TokenObserver } from '../credentials/token-manager.ts';
import { describeError } from '../shared/error-text.ts';

/** Turns token manager events into metrics and log lines; never sees a token. */
export function tokenTelemetry(metrics: CredentialMetrics | undefined, logger: Logger): TokenObserver {
  return {
    onTokenAcquired({ credential, expiresAtMs, principal, durationMs, renewed }) {
      metrics?.tokenAcquired(expiresAtMs, durationMs);
      logger.info(renewed ? 'entra token refreshed' : 'entra token acquired', {
        credential,
        principal,
        expiresAt: new Date(expiresAtMs).toISOString(),
        durationMs: Math.round(durationMs),
      });
    },
    onRefreshFailed({ credential, error, attempt, nextRetryInMs, tokenStillValid, durationMs }) {
      metrics?.refreshFailed(durationMs);
      // While the old token is valid this is routine; once it is gone, probes are failing.
      logger[tokenStillValid ? 'warn' : 'error']('entra token request failed', {
        credential,
        attempt,
        kind: error.kind,
        retryable: error.isRetryable,
        error: error.message,
        nextRetryInMs: Math.round(nextRetryInMs),
        tokenStillValid,
      });
    },
    onTokenExpired({ credential }) {
      logger.error('entra token expired without a replacement: targets fail with reason token until one arrives', { credential });
    },
    onListenerError({ credential, error }) {
      logger.error('a token listener failed', { credential, error: describeError(error) });
    },
  };
}
