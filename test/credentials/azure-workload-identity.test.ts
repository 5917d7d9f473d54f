/**
 * The real WorkloadIdentityCredential and ClientSecretCredential against the fake Entra
 * authority over https. The test CA is trusted through the credential's pipeline options
 * (`extraCaPem` -> tlsOptions.ca), so no child process with NODE_EXTRA_CA_CERTS is needed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAzureTokenProvider } from '../../src/credentials/azure-token-provider.ts';
import type { AzureTokenProviderOptions, EntraSource } from '../../src/credentials/azure-token-provider.ts';
import { createTokenManager } from '../../src/credentials/token-manager.ts';
import { TokenRequestError } from '../../src/credentials/token-request.ts';
import type { RefreshFailedEvent } from '../../src/credentials/token-manager.ts';
import { systemClock } from '../../src/shared/clock.ts';
import type { RedisAuth } from '../../src/credentials/credential.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { waitFor } from '../support/wait.ts';

const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
const ASSERTION = 'federated.service-account.token';
const CLIENT_SECRET = 'Zq8~the-real-client-secret~00';

let endpoint: FakeTokenEndpoint;
let dir: string;
let tokenFile: string;
let options: AzureTokenProviderOptions;

function workloadSource(overrides: Partial<Extract<EntraSource, { source: 'workload-identity' }>> = {}): EntraSource {
  return {
    source: 'workload-identity',
    clientId: CLIENT_ID,
    tenantId: endpoint.tenantId,
    tokenFilePath: tokenFile,
    authorityHost: endpoint.authorityHost!,
    disableInstanceDiscovery: true,
    ...overrides,
  };
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

describe('Entra authority credentials against the fake https authority', { timeout: 60_000 }, () => {
  before(async () => {
    endpoint = await startFakeTokenEndpoint({
      authority: true,
      lifetimeSeconds: 3,
      expectedClientId: CLIENT_ID,
      expectedClientAssertion: ASSERTION,
      expectedClientSecret: CLIENT_SECRET,
    });
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-wi-'));
    tokenFile = join(dir, 'azure-identity-token');
    await writeFile(tokenFile, `${ASSERTION}\n`);
    options = { clock: systemClock, timeoutMs: 5000, extraCaPem: endpoint.caCertPem! };
  });

  after(async () => {
    await endpoint.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('workload identity: rotates tokens through the manager, username from the oid', async () => {
    const changes: RedisAuth[] = [];
    const failures: RefreshFailedEvent[] = [];
    const manager = createTokenManager({
      name: 'wi-cache',
      provider: createAzureTokenProvider(workloadSource(), options),
      clock: systemClock,
      random: Math.random,
      requestTimeoutMs: 5000,
      backoff: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 'full' },
      observer: { onRefreshFailed: (event) => failures.push(event) },
    });
    manager.onChange((auth) => changes.push(auth));
    try {
      manager.start();
      await manager.ready();
      await waitFor(() => changes.length >= 3, { timeoutMs: 10_000, message: 'three tokens' });
      const issued = endpoint
        .issuedTokens()
        .filter((token) => token.kind === 'authority')
        .map((token) => token.token);
      for (const auth of changes) {
        assert.equal(auth.username, endpoint.oid);
        assert.ok(issued.includes(auth.password));
      }
      assert.deepEqual(failures, []);
    } finally {
      manager.close();
    }
  });

  it('workload identity: settings from AZURE_* environment variables, as in AKS', async () => {
    const saved = { ...process.env };
    process.env['AZURE_CLIENT_ID'] = CLIENT_ID;
    process.env['AZURE_TENANT_ID'] = endpoint.tenantId;
    process.env['AZURE_FEDERATED_TOKEN_FILE'] = tokenFile;
    try {
      const provider = createAzureTokenProvider(
        { source: 'workload-identity', authorityHost: endpoint.authorityHost!, disableInstanceDiscovery: true },
        options,
      );
      const token = await provider.requestToken();
      assert.equal(token.token, endpoint.issuedTokens().at(-1)!.token);
    } finally {
      process.env = saved;
    }
  });

  it('a rejected federated assertion is a non-retryable "rejected" error with codes only', async () => {
    const wrongFile = join(dir, 'wrong-token');
    await writeFile(wrongFile, 'some.other.assertion');
    const provider = createAzureTokenProvider(workloadSource({ tokenFilePath: wrongFile }), options);
    const error = await rejection(provider.requestToken());
    assert.equal(error.kind, 'rejected');
    assert.equal(error.isRetryable, false);
    assert.equal(
      error.message,
      'WorkloadIdentityCredential: the token request was rejected (check tenant id, client id, and the secret or federated credential) [invalid_client, AADSTS700016, AuthenticationRequiredError]',
    );
  });

  it('client secret: accepted when right; when wrong, rejected without echoing it', async () => {
    const source = (clientSecret: string): EntraSource => ({
      source: 'client-secret',
      tenantId: endpoint.tenantId,
      clientId: CLIENT_ID,
      clientSecret,
      authorityHost: endpoint.authorityHost!,
      disableInstanceDiscovery: true,
    });
    const good = await createAzureTokenProvider(source(CLIENT_SECRET), options).requestToken();
    assert.equal(good.token, endpoint.issuedTokens().at(-1)!.token);

    const wrongSecret = `${CLIENT_SECRET}-rotated-away`;
    const error = await rejection(createAzureTokenProvider(source(wrongSecret), options).requestToken());
    assert.equal(error.kind, 'rejected');
    assert.match(error.message, /^ClientSecretCredential: the token request was rejected .*\[invalid_client, AADSTS700016/);
    assert.ok(!`${error.message}${error.stack}`.includes(CLIENT_SECRET));
  });

  it('authority down (HTTP 500): retryable; msal-node then throttles that credential for 60 s', async () => {
    const provider = createAzureTokenProvider(workloadSource(), options);
    endpoint.setMode('down');
    try {
      const error = await rejection(provider.requestToken());
      assert.equal(error.kind, 'http');
      assert.equal(error.isRetryable, true);
      assert.match(error.message, /\[temporarily_unavailable, AADSTS500011, AuthenticationRequiredError\]/);
    } finally {
      endpoint.setMode('ok');
    }
    // msal-node answers from its throttle cache without a request (it reads Retry-After
    // case-sensitively from lower-cased headers, so it always waits its default 60 s).
    const before = endpoint.requests('authority');
    const throttled = await rejection(provider.requestToken());
    assert.equal(endpoint.requests('authority'), before);
    assert.equal(throttled.isRetryable, true);
    assert.match(throttled.message, /AADSTS500011/);
    // The endpoint itself is back: a fresh credential gets a token at once.
    const token = await createAzureTokenProvider(workloadSource(), options).requestToken();
    assert.equal(token.token, endpoint.issuedTokens().at(-1)!.token);
  });

  it('slow authority: the deadline holds', async () => {
    const provider = createAzureTokenProvider(workloadSource(), { ...options, timeoutMs: 700 });
    endpoint.setMode('slow');
    try {
      const started = performance.now();
      const error = await rejection(provider.requestToken());
      assert.equal(error.kind, 'timeout');
      assert.ok(performance.now() - started < 2000);
    } finally {
      endpoint.setMode('ok');
    }
  });

  it('without the test CA the authority is untrusted: a retryable network error', async () => {
    const provider = createAzureTokenProvider(workloadSource(), { clock: systemClock, timeoutMs: 5000 });
    const error = await rejection(provider.requestToken());
    assert.equal(error.kind, 'network');
    assert.equal(error.isRetryable, true);
    assert.match(error.message, /endpoints_resolution_error/);
  });
});
