import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
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
import { runCli } from '../support/cli-process.ts';
import { FAILURE_REASONS } from '../../src/shared/probe-result.ts';

// A real redis-server plays Azure: tokens from the fake managed-identity endpoint (driven by the real
// @azure/identity) become ACL passwords until they expire; then connections still using them are closed.
const ACCESS_KEY = 'entra-test-access-key-9Wq';
let redis: RedisServer;
let endpoint: FakeTokenEndpoint;
let simulator: AzureAuthSimulator;
let probe: InProcessDaemon;
let httpPort: number;

const value = async (name: string, labels: Record<string, string>) => sampleValue(await probe.metricsText(), name, labels);
const failuresOf = async (target: string) => {
  const text = await probe.metricsText();
  let total = 0;
  for (const reason of FAILURE_REASONS) total += sampleValue(text, 'redis_probe_cycle_failures_total', { target, reason }) ?? 0;
  return total;
};
const refreshes = (result: 'success' | 'failure') => value('redis_probe_token_refreshes_total', { credential: 'mi', result }).then((v) => v ?? 0);
/** Resolves right after the next successful token refresh, so a fault starts with a fresh token. */
async function nextRefresh(): Promise<void> {
  const before = await refreshes('success');
  await waitFor(async () => (await refreshes('success')) > before, { timeoutMs: 15_000, intervalMs: 20, message: 'no token refresh' });
}

before(async () => {
  redis = await startRedis({ aclUsers: [{ name: 'keyuser', password: ACCESS_KEY, rules: '+@all ~* &*' }] });
  endpoint = await startFakeTokenEndpoint({ lifetimeSeconds: 4 });
  simulator = await startAzureAuthSimulator(redis, endpoint, { aliasUsers: [{ name: 'explicit-user', rules: '+@all -client ~* &*' }] });
  // ManagedIdentityCredential picks the App Service protocol from these (read when it first asks).
  process.env['IDENTITY_ENDPOINT'] = endpoint.managedIdentityEndpoint;
  process.env['IDENTITY_HEADER'] = endpoint.identityHeader;
  const dir = await mkdtemp(join(tmpdir(), 'redis-probe-entra-'));
  httpPort = await freePort();
  probe = await startInProcessDaemon(
    `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 2s }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
credentials:
  - { name: mi, type: entra, source: managed-identity, requestTimeout: 1500ms, retry: { initialDelay: 200ms, maxDelay: 1s } }
  - { name: explicit, type: entra, source: managed-identity, username: explicit-user, requestTimeout: 1500ms, retry: { initialDelay: 200ms, maxDelay: 1s } }
  - { name: key, type: access-key, username: keyuser, passwordEnv: KEY }
targets:
  - { name: entra, host: 127.0.0.1, port: ${simulator.port}, credential: mi }
  - { name: explicit, host: 127.0.0.1, port: ${simulator.port}, credential: explicit }
  - { name: keyed, host: 127.0.0.1, port: ${redis.port}, credential: key }
`,
    { baseDir: dir, env: { KEY: ACCESS_KEY } },
  );
});

after(async () => {
  await probe?.daemon.stop();
  await simulator?.close();
  await endpoint?.close();
  await redis?.stop();
});

describe('Entra ID with a managed identity, against a redis that enforces token expiry', { timeout: 120_000 }, () => {
  it('rotates five tokens in a row with zero failed cycles, re-AUTHing the live connection', async () => {
    const startRefreshes = await refreshes('success');
    await waitFor(async () => (await refreshes('success')) >= startRefreshes + 5, { timeoutMs: 30_000, intervalMs: 200, message: 'five rotations' });
    assert.equal(await failuresOf('entra'), 0);
    assert.equal(await value('redis_probe_success', { target: 'entra' }), 1);
    assert.ok(((await value('redis_probe_token_expiry_timestamp_seconds', { credential: 'mi' })) ?? 0) > Date.now() / 1000);
    assert.ok(((await value('redis_probe_token_refresh_duration_seconds_count', { credential: 'mi' })) ?? 0) >= 5);
    const connects = await value('redis_probe_step_duration_seconds_count', { target: 'entra', step: 'connect' });
    assert.equal(connects, 1, 'one connection for all rotations: tokens were re-sent with AUTH, never by reconnecting');
    assert.equal(simulator.expiredConnectionsClosed(), 0, 'Azure never had to close a connection for an expired token');
  });

  it('uses the oid claim as the username, and an explicit username when configured', async () => {
    const clients = await redis.cli('CLIENT', 'LIST');
    const userOf = (target: string) => /user=(\S+)/.exec(clients.split('\n').find((line) => line.includes(`:${target} `)) ?? '')?.[1];
    assert.equal(userOf('entra'), endpoint.oid);
    // That principal may not run CLIENT at all, so its connection carries no name: look for the user.
    assert.ok(
      clients.split('\n').some((line) => line.includes(' user=explicit-user ')),
      'a connection authenticated as explicit-user',
    );
  });

  it('reports CLIENT LIST as unsupported for a principal without CLIENT, keeps the cycle green, warns once', async () => {
    assert.equal(await value('redis_probe_success', { target: 'explicit' }), 1);
    assert.equal(await value('redis_probe_step_supported', { target: 'explicit', step: 'client_list' }), 0);
    assert.equal(await failuresOf('explicit'), 0);
    const warnings = probe.logs().filter((line) => line.target === 'explicit' && String(line.message).startsWith('step refused'));
    assert.equal(warnings.length, 1);
  });

  it('rides out a token endpoint outage shorter than the token lifetime without a failed cycle', async () => {
    endpoint.setLifetimeSeconds(8);
    await nextRefresh();
    await nextRefresh(); // now holding an 8 s token, next refresh due at its half-life
    const failedBefore = await refreshes('failure');
    const cyclesBefore = await failuresOf('entra');
    endpoint.setMode('down');
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    endpoint.setMode('ok');
    await nextRefresh();
    assert.ok((await refreshes('failure')) > failedBefore, 'failed refreshes are counted');
    assert.equal(await failuresOf('entra'), cyclesBefore, 'no failed cycle');
    assert.ok(probe.logs().some((line) => line.message === 'entra token request failed' && line.level === 'warn' && line.tokenStillValid === true));
  });

  it('fails with token or auth when the outage outlasts the token, then recovers within a cycle of its return', async () => {
    endpoint.setLifetimeSeconds(3);
    await nextRefresh();
    await nextRefresh();
    endpoint.setMode('down');
    await waitFor(async () => (await value('redis_probe_success', { target: 'entra' })) === 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'cycles never failed',
    });
    const text = await probe.metricsText();
    const byTokenOrAuth =
      (sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'entra', reason: 'token' }) ?? 0) +
      (sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'entra', reason: 'auth' }) ?? 0);
    assert.ok(byTokenOrAuth >= 1, 'failures are attributed to the token or auth');
    assert.equal(await value('redis_probe_success', { target: 'keyed' }), 1, 'the access-key target is unaffected');
    endpoint.setMode('ok');
    const returnedAt = Date.now();
    await waitFor(async () => (await value('redis_probe_success', { target: 'entra' })) === 1, { timeoutMs: 5_000, intervalMs: 50, message: 'no recovery' });
    // The manager retries at most every second after expiry, and a cycle runs every second.
    assert.ok(Date.now() - returnedAt < 3_500, `recovered after ${Date.now() - returnedAt} ms`);
    assert.ok(probe.logs().some((line) => String(line.message).startsWith('entra token expired')));
  });

  it('survives a hung and a garbage-answering endpoint with clear log lines, other targets unaffected', async () => {
    endpoint.setLifetimeSeconds(30);
    await nextRefresh();
    const keyedCycles = (await value('redis_probe_cycles_total', { target: 'keyed' })) ?? 0;
    endpoint.setMode('slow');
    const timeoutLine = await waitFor(() => probe.logs().find((line) => line.message === 'entra token request failed' && line.kind === 'timeout'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'no timeout logged',
    });
    assert.equal(timeoutLine.credential === 'mi' || timeoutLine.credential === 'explicit', true);
    endpoint.setMode('garbage');
    await waitFor(
      () => probe.logs().find((line) => line.message === 'entra token request failed' && ['invalid_response', 'network'].includes(String(line.kind))),
      { timeoutMs: 20_000, intervalMs: 100, message: 'no garbage failure logged' },
    );
    // Still garbage: the keyed target goes on cycling meanwhile (however fast the failures above were logged).
    await waitFor(async () => ((await value('redis_probe_cycles_total', { target: 'keyed' })) ?? 0) > keyedCycles + 2, {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'keyed target stopped cycling',
    });
    endpoint.setMode('ok');
    assert.equal(await value('redis_probe_success', { target: 'keyed' }), 1);
    assert.equal(await failuresOf('keyed'), 0);
  });

  it('never lets a token or the access key into logs, metrics or HTTP responses', async () => {
    const tokens = endpoint.issuedTokens().map((issued) => issued.token);
    assert.ok(tokens.length >= 8);
    const texts = [
      probe.rawLogs(),
      await probe.metricsText(),
      await (await fetch(`http://127.0.0.1:${httpPort}/`)).text(),
      await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
    ];
    for (const text of texts) {
      assert.ok(!text.includes(ACCESS_KEY), 'access key leaked');
      for (const token of tokens) {
        assert.ok(!text.includes(token), 'a token leaked');
        assert.ok(!text.includes(token.split('.')[2] ?? token), 'a token signature leaked');
      }
    }
  });

  it('`once` authenticates with Entra and prints the principal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'redis-probe-entra-once-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      join(dir, 'config.yaml'),
      `credentials: [{ name: mi, type: entra, source: managed-identity }]\ntargets: [{ name: entra, host: 127.0.0.1, port: ${simulator.port}, credential: mi, tls: { enabled: false } }]\n`,
    );
    const run = await runCli(['once', '--config', join(dir, 'config.yaml')], {
      env: { IDENTITY_ENDPOINT: endpoint.managedIdentityEndpoint, IDENTITY_HEADER: endpoint.identityHeader },
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`Authenticated as : ${endpoint.oid}`));
    for (const token of endpoint.issuedTokens()) assert.ok(!run.stdout.includes(token.token) && !run.stderr.includes(token.token));
  });
});
