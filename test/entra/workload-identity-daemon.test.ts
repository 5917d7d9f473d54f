import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { startAzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import type { AzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import { startInProcessDaemon } from '../support/in-process-daemon.ts';
import type { InProcessDaemon } from '../support/in-process-daemon.ts';
import { freePort } from '../support/free-port.ts';
import { waitFor } from '../support/wait.ts';
import { sampleValue } from '../support/prometheus-text.ts';

// The AKS path: the real WorkloadIdentityCredential exchanges a federated service-account token at a
// local https Entra authority (test CA trusted through `authorityCa`) for Redis tokens.
const CLIENT_ID = '0f0e0d0c-1111-2222-3333-444455556666';
const ASSERTION = 'federated-service-account-token-Jf83';
let redis: RedisServer;
let endpoint: FakeTokenEndpoint;
let simulator: AzureAuthSimulator;
let probe: InProcessDaemon;

before(async () => {
  redis = await startRedis();
  endpoint = await startFakeTokenEndpoint({ authority: true, lifetimeSeconds: 4, expectedClientId: CLIENT_ID, expectedClientAssertion: ASSERTION });
  simulator = await startAzureAuthSimulator(redis, endpoint);
  const dir = await mkdtemp(join(tmpdir(), 'redis-probe-wi-daemon-'));
  await writeFile(join(dir, 'federated-token'), ASSERTION);
  await writeFile(join(dir, 'authority-ca.pem'), endpoint.caCertPem ?? '');
  // What the AKS workload identity webhook injects into the pod.
  process.env['AZURE_FEDERATED_TOKEN_FILE'] = join(dir, 'federated-token');
  probe = await startInProcessDaemon(
    `server: { host: 127.0.0.1, port: ${await freePort()} }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
credentials:
  - name: wi
    type: entra
    source: workload-identity
    clientId: ${CLIENT_ID}
    tenantId: ${endpoint.tenantId}
    authorityHost: ${endpoint.authorityHost}
    disableInstanceDiscovery: true
    authorityCa: authority-ca.pem
    requestTimeout: 3s
targets:
  - { name: aks, host: 127.0.0.1, port: ${simulator.port}, credential: wi }
`,
    { baseDir: dir },
  );
});

after(async () => {
  await probe?.daemon.stop();
  await simulator?.close();
  await endpoint?.close();
  await redis?.stop();
});

describe('Entra ID through AKS workload identity', { timeout: 60_000 }, () => {
  it('acquires and rotates tokens through the https authority, probes green with the oid as user', async () => {
    await waitFor(
      async () => (sampleValue(await probe.metricsText(), 'redis_probe_token_refreshes_total', { credential: 'wi', result: 'success' }) ?? 0) >= 3,
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        message: 'three tokens through workload identity',
      },
    );
    const text = await probe.metricsText();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'aks' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_token_refreshes_total', { credential: 'wi', result: 'failure' }), 0);
    assert.ok(endpoint.requests('authority') >= 3);
    assert.match(await redis.cli('CLIENT', 'LIST'), new RegExp(`user=${endpoint.oid} `));
    const acquired = probe.logs().find((line) => line.message === 'entra token acquired');
    assert.equal(acquired?.principal, endpoint.oid);
    for (const issued of endpoint.issuedTokens()) assert.ok(!probe.rawLogs().includes(issued.token));
    assert.ok(!probe.rawLogs().includes(ASSERTION), 'the federated assertion never reaches a log');
  });
});
