/**
 * The real @azure/identity ManagedIdentityCredential (App Service protocol) against the fake
 * endpoint. msal-node caches the managed-identity source per process, so this file uses one
 * fake endpoint for all its tests (node --test runs each file in its own process).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAzureTokenProvider } from '../../src/credentials/azure-token-provider.ts';
import type { IdentityProvider } from '../../src/credentials/azure-token-provider.ts';
import { createTokenManager } from '../../src/credentials/token-manager.ts';
import { TokenRequestError } from '../../src/credentials/token-request.ts';
import type { RefreshFailedEvent, TokenManager, TokenManagerOptions } from '../../src/credentials/token-manager.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { CredentialUnavailableError } from '../../src/credentials/credential.ts';
import type { RedisAuth } from '../../src/credentials/credential.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { waitFor } from '../support/wait.ts';

let endpoint: FakeTokenEndpoint;
let provider: IdentityProvider;
const managers: TokenManager[] = [];

function manager(overrides: Partial<TokenManagerOptions> = {}) {
  const changes: RedisAuth[] = [];
  const failures: RefreshFailedEvent[] = [];
  const expired: string[] = [];
  const created = createTokenManager({
    name: 'mi-cache',
    provider,
    clock: systemClock,
    random: Math.random,
    requestTimeoutMs: 5000,
    backoff: { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0.2 },
    observer: {
      onRefreshFailed: (event) => failures.push(event),
      onTokenExpired: (event) => expired.push(event.credential),
    },
    ...overrides,
  });
  created.onChange((auth) => changes.push(auth));
  managers.push(created);
  return { manager: created, changes, failures, expired };
}

async function rejection(promise: Promise<unknown>): Promise<TokenRequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenRequestError, `expected TokenRequestError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the token request to fail');
}

describe('ManagedIdentityCredential against the fake App Service endpoint', { timeout: 60_000 }, () => {
  before(async () => {
    endpoint = await startFakeTokenEndpoint({ lifetimeSeconds: 3 });
    // ManagedIdentityCredential itself reads these (App Service protocol).
    process.env['IDENTITY_ENDPOINT'] = endpoint.managedIdentityEndpoint;
    process.env['IDENTITY_HEADER'] = endpoint.identityHeader;
    provider = createAzureTokenProvider({ source: 'managed-identity' }, { clock: systemClock, timeoutMs: 1500 });
  });

  after(async () => {
    for (const m of managers) m.close();
    await endpoint.close();
  });

  it('rotates several times, using the oid as username', async () => {
    endpoint.setMode('ok');
    const t = manager();
    t.manager.start();
    await t.manager.ready();
    assert.equal(t.changes.length, 1, 'the first token reached the listeners');
    // 3 s tokens refresh at half-life: three rotations in about 4.5 s.
    await waitFor(() => t.changes.length >= 4, { timeoutMs: 15_000, message: 'four tokens' });
    const issued = new Map(endpoint.issuedTokens().map((token) => [token.token, token]));
    for (const auth of t.changes) {
      assert.equal(auth.username, endpoint.oid);
      assert.ok(issued.has(auth.password), 'every password is a token the endpoint issued');
    }
    const expiries = t.changes.map((auth) => issued.get(auth.password)!.expiresAtMs);
    assert.deepEqual(
      expiries,
      [...expiries].sort((a, b) => a - b),
    );
    assert.equal(new Set(t.changes.map((auth) => auth.password)).size, t.changes.length);
    assert.deepEqual(t.failures, []);
    assert.equal(t.manager.current().password, t.changes.at(-1)!.password);
    t.manager.close();
  });

  it('down (HTTP 500): retryable failures, expiry, then recovery when the endpoint is back', async () => {
    endpoint.setMode('ok');
    const t = manager();
    t.manager.start();
    await t.manager.ready();
    const first = t.manager.current();
    endpoint.setMode('down');

    await waitFor(() => t.failures.some((event) => event.tokenStillValid), { timeoutMs: 5000, message: 'a failure while valid' });
    const failure = t.failures[0]!;
    assert.equal(failure.error.kind, 'http');
    assert.equal(failure.error.httpStatus, 500);
    assert.equal(failure.error.isRetryable, true);
    assert.match(failure.error.message, /^ManagedIdentityCredential: the token endpoint failed \[HTTP 500/);

    await waitFor(() => t.expired.length === 1, { timeoutMs: 5000, message: 'the token to expire' });
    assert.throws(() => t.manager.current(), CredentialUnavailableError);
    await waitFor(() => t.failures.some((event) => !event.tokenStillValid), { timeoutMs: 5000, message: 'a failure after expiry' });

    endpoint.setMode('ok');
    await waitFor(() => t.changes.length === 2, { timeoutMs: 5000, message: 'recovery' });
    assert.notEqual(t.manager.current().password, first.password);
    assert.equal(t.manager.current().password, t.changes[1]!.password);
    t.manager.close();
  });

  it('slow: the provider deadline cuts off a hung endpoint that ignores abortSignal', async () => {
    endpoint.setMode('slow');
    const started = performance.now();
    const error = await rejection(provider.requestToken());
    const elapsedMs = performance.now() - started;
    assert.equal(error.kind, 'timeout');
    assert.equal(error.isRetryable, true);
    assert.equal(error.message, 'ManagedIdentityCredential: token request timed out after 1500 ms');
    assert.ok(elapsedMs >= 1400 && elapsedMs < 3000, `gave up after ${elapsedMs} ms`);
    endpoint.setMode('ok');
  });

  it('slow: the manager applies its own, shorter deadline and recovers', async () => {
    endpoint.setMode('slow');
    const t = manager({ requestTimeoutMs: 400 });
    t.manager.start();
    await t.manager.ready();
    const failure = t.failures[0]!;
    assert.equal(failure.error.kind, 'timeout');
    assert.equal(failure.error.message, 'Entra credential "mi-cache": token request timed out after 400 ms');
    assert.ok(failure.durationMs >= 350 && failure.durationMs < 1000, `failed after ${failure.durationMs} ms`);
    assert.throws(() => t.manager.current(), /has no token yet: .*timed out after 400 ms/);

    endpoint.setMode('ok');
    await waitFor(() => t.changes.length >= 1, { timeoutMs: 5000, message: 'a token after the endpoint recovered' });
    assert.equal(t.manager.current().username, endpoint.oid);
    t.manager.close();
  });

  it('garbage (200 with HTML): a clear error, no crash, then recovery', async () => {
    endpoint.setMode('garbage');
    const error = await rejection(provider.requestToken());
    // msal-node reports an unparseable answer as a network error.
    assert.equal(error.kind, 'network');
    assert.equal(error.isRetryable, true);
    assert.match(error.message, /^ManagedIdentityCredential: could not reach the token endpoint \[network_error/);
    assert.doesNotMatch(error.message, /html/i);

    endpoint.setMode('ok');
    const token = await provider.requestToken();
    assert.equal(token.token, endpoint.issuedTokens().at(-1)!.token);
    assert.ok(token.expiresAtMs > Date.now());
  });

  it('counts requests and calls onTokenIssued before answering', async () => {
    endpoint.setMode('ok');
    const seen: [string, string, number][] = [];
    endpoint.onTokenIssued(async (token, oid, expiresAtMs) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen.push([token, oid, expiresAtMs]);
    });
    try {
      const before = endpoint.requests('managed-identity');
      const token = await provider.requestToken();
      assert.equal(endpoint.requests('managed-identity'), before + 1);
      assert.deepEqual(seen, [[token.token, endpoint.oid, token.expiresAtMs]]);
      assert.equal(endpoint.tokensIssued(), endpoint.issuedTokens().length);
    } finally {
      endpoint.onTokenIssued(undefined);
    }
  });
});
