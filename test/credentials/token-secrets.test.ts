/**
 * Tokens must never reach logs, errors or metrics. The fake endpoint echoes the last issued
 * token in its error bodies (as a careless proxy might), and the real @azure/identity puts
 * those bodies in its error messages; everything the daemon could log is collected here and
 * searched for every issued token, its payload and its signature.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { createAzureTokenProvider } from '../../src/credentials/azure-token-provider.ts';
import { ENTRA_REDIS_SCOPE } from '../../src/config/resolve-config.ts';
import type { EntraSource, IdentityProvider } from '../../src/credentials/azure-token-provider.ts';
import { createTokenManager } from '../../src/credentials/token-manager.ts';
import type { TokenManager, TokenObserver } from '../../src/credentials/token-manager.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeEndpointMode, FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { waitFor } from '../support/wait.ts';

const CLIENT_ID = '99999999-2222-3333-4444-555555555555';
const ASSERTION = 'federated.assertion.for-secrets-test';

let endpoint: FakeTokenEndpoint;
let dir: string;
const collected: string[] = [];
const managers: TokenManager[] = [];

/** Serialises anything the daemon might log, errors included (message and stack are not enumerable). */
function collect(value: unknown): void {
  collected.push(
    JSON.stringify(value, (_key, inner: unknown) =>
      inner instanceof Error ? Object.assign({}, inner, { name: inner.name, message: inner.message, stack: inner.stack }) : inner,
    ),
  );
}

function collectingObserver(): TokenObserver {
  return {
    onTokenAcquired: collect,
    onRefreshFailed: collect,
    onTokenExpired: collect,
    onListenerError: collect,
  };
}

function startManager(name: string, provider: IdentityProvider): TokenManager {
  const manager = createTokenManager({
    name,
    provider,
    clock: systemClock,
    random: Math.random,
    requestTimeoutMs: 600,
    backoff: { initialMs: 100, maxMs: 400, multiplier: 2, jitter: 'full' },
    observer: collectingObserver(),
  });
  managers.push(manager);
  manager.start();
  return manager;
}

function usable(manager: TokenManager): boolean {
  try {
    manager.current();
    return true;
  } catch {
    return false;
  }
}

/** Reads everything observable about a manager right now. */
function snapshot(manager: TokenManager): void {
  try {
    manager.current();
  } catch (error) {
    collect(error);
  }
}

async function requestAndCollect(provider: IdentityProvider): Promise<void> {
  try {
    await provider.requestToken();
  } catch (error) {
    collect(error);
  }
}

describe('no token or secret text in errors, events or current()', { timeout: 60_000 }, () => {
  before(async () => {
    endpoint = await startFakeTokenEndpoint({
      authority: true,
      lifetimeSeconds: 3,
      echoTokenInErrors: true,
      expectedClientAssertion: ASSERTION,
    });
    process.env['IDENTITY_ENDPOINT'] = endpoint.managedIdentityEndpoint;
    process.env['IDENTITY_HEADER'] = endpoint.identityHeader;
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-secrets-'));
    await writeFile(join(dir, 'good'), ASSERTION);
    await writeFile(join(dir, 'bad'), 'wrong.assertion.value');
  });

  after(async () => {
    for (const manager of managers) manager.close();
    await endpoint.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the raw SDK error does carry the echoed token (so this test means something)', async () => {
    endpoint.setMode('ok');
    const raw = new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } });
    await raw.getToken(ENTRA_REDIS_SCOPE);
    endpoint.setMode('down');
    try {
      await assert.rejects(raw.getToken(ENTRA_REDIS_SCOPE), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.ok(error.message.includes(endpoint.issuedTokens().at(-1)!.token), 'expected the SDK to leak the token');
        return true;
      });
    } finally {
      endpoint.setMode('ok');
    }
  });

  it('survives ok, down, garbage, slow and rejection without leaking', async () => {
    const options = { clock: systemClock, timeoutMs: 500, extraCaPem: endpoint.caCertPem! };
    const workload = (file: string): EntraSource => ({
      source: 'workload-identity',
      clientId: CLIENT_ID,
      tenantId: endpoint.tenantId,
      tokenFilePath: join(dir, file),
      authorityHost: endpoint.authorityHost!,
      disableInstanceDiscovery: true,
    });
    const miProvider = createAzureTokenProvider({ source: 'managed-identity' }, options);
    const wiProvider = createAzureTokenProvider(workload('good'), options);
    const rejectedProvider = createAzureTokenProvider(workload('bad'), options);

    endpoint.setMode('ok');
    const mi = startManager('mi', miProvider);
    const wi = startManager('wi', wiProvider);
    await Promise.all([mi.ready(), wi.ready()]);
    await requestAndCollect(rejectedProvider);

    const modes: FakeEndpointMode[] = ['down', 'garbage', 'slow'];
    for (const mode of modes) {
      endpoint.setMode(mode);
      const failuresBefore = collected.length;
      await requestAndCollect(miProvider);
      await requestAndCollect(wiProvider);
      await requestAndCollect(rejectedProvider);
      // Let the managers fail a few times and the 3 s tokens expire.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      snapshot(mi);
      snapshot(wi);
      assert.ok(collected.length > failuresBefore + 3, `nothing collected in mode ${mode}`);
    }
    endpoint.setMode('ok');
    await waitFor(() => usable(mi), { timeoutMs: 5000, message: 'mi recovery' });
    snapshot(mi);
    snapshot(wi);

    const tokens = endpoint.issuedTokens();
    assert.ok(tokens.length >= 4, `only ${tokens.length} tokens issued`);
    const failures = collected.filter((text) => text.includes('TokenRequestError'));
    assert.ok(failures.length >= 10, `only ${failures.length} errors collected`);
    const haystack = collected.join('\n');
    for (const { token } of tokens) {
      const [, payload, signature] = token.split('.');
      assert.ok(!haystack.includes(token), 'an issued token leaked');
      assert.ok(!haystack.includes(payload!), 'a token payload leaked');
      assert.ok(!haystack.includes(signature!), 'a token signature leaked');
    }
    assert.ok(!haystack.includes(ASSERTION), 'the federated assertion leaked');
    assert.ok(!haystack.includes(endpoint.identityHeader), 'the identity header leaked');
  });
});
