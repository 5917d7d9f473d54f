import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeEndpointMode, FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { startAzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import type { AzureAuthSimulator } from '../support/azure-auth-simulator.ts';
import { startInProcessDaemon } from '../support/in-process-daemon.ts';
import type { InProcessDaemon } from '../support/in-process-daemon.ts';
import { freePort } from '../support/free-port.ts';
import { waitFor } from '../support/wait.ts';
import { sampleValue } from '../support/prometheus-text.ts';

// The real @azure/identity against the local managed-identity endpoint, a real redis-server behind the
// Azure auth simulator (tokens are ACL passwords until they expire), and the default retry settings
// (1 s doubling to 1 minute): an outage that outlasts the token must not keep the target red after it ends.
let redis: RedisServer;
let endpoint: FakeTokenEndpoint;
let simulator: AzureAuthSimulator;
let probe: InProcessDaemon;

const value = async (name: string, labels: Record<string, string>) => sampleValue(await probe.metricsText(), name, labels);
const cycles = async () => (await value('redis_probe_cycles_total', { target: 'entra' })) ?? 0;
const tokenFailures = async () => (await value('redis_probe_cycle_failures_total', { target: 'entra', reason: 'token' })) ?? 0;

before(async () => {
  redis = await startRedis();
  endpoint = await startFakeTokenEndpoint({ lifetimeSeconds: 3 });
  simulator = await startAzureAuthSimulator(redis, endpoint);
  process.env['IDENTITY_ENDPOINT'] = endpoint.managedIdentityEndpoint;
  process.env['IDENTITY_HEADER'] = endpoint.identityHeader;
  const dir = await mkdtemp(join(tmpdir(), 'redis-probe-recovery-'));
  probe = await startInProcessDaemon(
    `server: { host: 127.0.0.1, port: ${await freePort()}, shutdownGrace: 2s }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
credentials:
  - { name: mi, type: entra, source: managed-identity, requestTimeout: 1500ms }
targets:
  - { name: entra, host: 127.0.0.1, port: ${simulator.port}, credential: mi }
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

describe('token recovery with the real @azure/identity and default retry settings', { timeout: 120_000 }, () => {
  for (const mode of ['down', 'garbage', 'slow'] satisfies FakeEndpointMode[]) {
    it(`a target is green again within one cycle of a ${mode} endpoint's return, after the token expired`, async () => {
      await waitFor(async () => (await value('redis_probe_success', { target: 'entra' })) === 1, {
        timeoutMs: 15_000,
        intervalMs: 50,
        message: 'green before the outage',
      });
      const linesBefore = probe.logs().length;
      endpoint.setMode(mode);
      // Held until the token has expired, a cycle failed for want of one, and a token request failed after expiry.
      const tokenFailuresBefore = await tokenFailures();
      await waitFor(async () => (await tokenFailures()) > tokenFailuresBefore, {
        timeoutMs: 20_000,
        intervalMs: 50,
        message: 'no cycle failed with reason token',
      });
      await waitFor(
        () =>
          probe
            .logs()
            .slice(linesBefore)
            .some((line) => line.message === 'entra token request failed' && line.tokenStillValid === false),
        { timeoutMs: 20_000, intervalMs: 50, message: 'no failure without a usable token' },
      );

      const cyclesAtReturn = await cycles();
      endpoint.setMode('ok');
      await waitFor(async () => (await value('redis_probe_success', { target: 'entra' })) === 1, {
        timeoutMs: 20_000,
        intervalMs: 50,
        message: `still red 20 s after the ${mode} endpoint came back`,
      });
      // The cycle that was running at the return may still fail; the next one must not.
      const cyclesToGreen = (await cycles()) - cyclesAtReturn;
      assert.ok(cyclesToGreen <= 2, `${cyclesToGreen} cycles after the return until green`);
    });
  }
});
