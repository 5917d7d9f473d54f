import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { startAzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import type { AzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import { freePort } from '../support/free-port.ts';
import { assertFailedAt, assertNoSecrets, runDoctorJson } from './support.ts';

// The real @azure/identity (ManagedIdentityCredential, App Service protocol) in the doctor process asks
// local fake token endpoints; a real redis-server plays the cache.
let redis: RedisServer;
let granted: FakeTokenEndpoint;
let simulator: AzureAuthSimulator;
let ungranted: FakeTokenEndpoint;

before(async () => {
  redis = await startRedis();
  granted = await startFakeTokenEndpoint({ lifetimeSeconds: 3600 });
  // Tokens of `granted` become passwords of an ACL user named by their oid, as an access policy assignment does.
  simulator = await startAzureAuthSimulator(redis, granted);
  // Tokens of `ungranted` name an object id that has no ACL user; its error bodies quote the last token.
  ungranted = await startFakeTokenEndpoint({ lifetimeSeconds: 3600, echoTokenInErrors: true });
});

after(async () => {
  await simulator?.close();
  await granted?.close();
  await ungranted?.close();
  await redis?.stop();
});

const miEnv = (endpoint: { managedIdentityEndpoint: string; identityHeader: string }) => ({
  IDENTITY_ENDPOINT: endpoint.managedIdentityEndpoint,
  IDENTITY_HEADER: endpoint.identityHeader,
});
const allTokens = () => [...granted.issuedTokens(), ...ungranted.issuedTokens()].map((issued) => issued.token);

describe('redis-probe doctor with Entra ID (real @azure/identity, fake token endpoint)', { timeout: 180_000 }, () => {
  it('reports the token, its expiry and the object id it uses, and passes every layer when that id has access', async () => {
    const run = await runDoctorJson(['--host', '127.0.0.1', '--port', String(simulator.port), '--no-tls', '--entra', 'managed-identity'], [], miEnv(granted));
    assertNoSecrets(run, allTokens());
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const token = run.layer('token');
    assert.equal(token.status, 'ok');
    assert.match(token.detail, new RegExp(`expires \\d{4}-\\d\\d-\\d\\dT.*username \\(object id\\) ${granted.oid}`));
    assert.match(run.layer('auth').detail, new RegExp(`user ${granted.oid}`));
    assert.deepEqual(
      run.targets[0]?.layers.map((layer) => layer.layer),
      ['dns', 'tcp', 'tls', 'token', 'auth', 'ping', 'set', 'get', 'client_list'],
    );
  });

  it('fails auth when the token is valid but its object id has no ACL user, naming object id and access policy', async () => {
    const run = await runDoctorJson(['--host', '127.0.0.1', '--port', String(redis.port), '--no-tls', '--entra', 'managed-identity'], [], miEnv(ungranted));
    assert.ok(ungranted.tokensIssued() > 0, 'a token was issued');
    assertNoSecrets(run, allTokens());
    assert.equal(run.layer('token').status, 'ok');
    const auth = assertFailedAt(run, 'auth');
    assert.match(auth.detail, /WRONGPASS/);
    assert.match(auth.hint ?? '', new RegExp(`Entra token for the user "${ungranted.oid}"`));
    assert.match(auth.hint ?? '', /object id \(not its client or application id\)/);
    assert.match(auth.hint ?? '', /data access policy/);
  });

  it('fails the token layer when the endpoint answers errors, and still checks the network path', async () => {
    ungranted.setMode('down');
    try {
      const run = await runDoctorJson(['--host', '127.0.0.1', '--port', String(redis.port), '--no-tls', '--entra', 'managed-identity'], [], miEnv(ungranted));
      assertNoSecrets(run, allTokens());
      const token = assertFailedAt(run, 'token');
      assert.equal(run.layer('tcp').status, 'ok', 'dns and tcp are checked without a token');
      assert.match(token.hint ?? '', /token endpoint answered with an error status/);
    } finally {
      ungranted.setMode('ok');
    }
  });

  it('fails the token layer when the endpoint cannot be reached, and says to check egress', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/msi/token`;
    const run = await runDoctorJson(['--host', '127.0.0.1', '--port', String(redis.port), '--no-tls', '--entra', 'managed-identity'], [], {
      IDENTITY_ENDPOINT: nowhere,
      IDENTITY_HEADER: 'h',
    });
    assertNoSecrets(run, allTokens());
    const token = assertFailedAt(run, 'token');
    assert.match(token.hint ?? '', /token endpoint could not be reached/);
  });
});
