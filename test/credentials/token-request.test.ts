import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenRequestError, checkTokenAnswer } from '../../src/credentials/token-request.ts';

const NOW = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;

describe('checkTokenAnswer', () => {
  it('keeps a usable answer, and a refresh hint only when it is a finite number', () => {
    assert.deepEqual(checkTokenAnswer({ token: 't', expiresAtMs: NOW + HOUR, refreshAfterMs: NOW + HOUR / 2 }, 'x', NOW), {
      token: 't',
      expiresAtMs: NOW + HOUR,
      refreshAfterMs: NOW + HOUR / 2,
    });
    assert.deepEqual(checkTokenAnswer({ token: 't', expiresAtMs: NOW + HOUR, refreshAfterMs: Number.NaN }, 'x'), { token: 't', expiresAtMs: NOW + HOUR });
  });

  it('refuses an answer without a token, without an expiry, or (given now) already expired, naming who answered', () => {
    const cases: [Parameters<typeof checkTokenAnswer>[0], number | undefined, string][] = [
      [null, undefined, 'AzureCliCredential: the token endpoint returned no token'],
      [{ token: '', expiresAtMs: NOW + HOUR }, undefined, 'AzureCliCredential: the token endpoint returned no token'],
      [{ token: 't', expiresAtMs: Number.POSITIVE_INFINITY }, undefined, 'AzureCliCredential: the token endpoint returned a token without an expiry'],
      [{ token: 't', expiresAtMs: NOW }, NOW, 'AzureCliCredential: the token endpoint returned a token that had already expired (at 2025-01-01T00:00:00.000Z)'],
    ];
    for (const [answer, nowMs, message] of cases) {
      assert.throws(
        () => checkTokenAnswer(answer, 'AzureCliCredential: the token endpoint', nowMs),
        (error: unknown) => error instanceof TokenRequestError && error.message === message && error.kind === 'invalid_response' && error.isRetryable,
      );
    }
    // Without `now` the expiry is not judged: the provider leaves that to whoever holds the token.
    assert.equal(checkTokenAnswer({ token: 't', expiresAtMs: NOW }, 'x').expiresAtMs, NOW);
  });
});
