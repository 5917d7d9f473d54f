import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/shared/clock.ts';
import { staticCredential } from '../../src/credentials/credential.ts';
import type { Credential } from '../../src/credentials/credential.ts';
import { createTargetProbe } from '../../src/probe/probe.ts';
import type { TargetProbe } from '../../src/probe/probe.ts';
import type { TargetConfig } from '../../src/config/types.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { TlsCerts } from '../support/tls-certs.ts';
import { freePort } from '../support/free-port.ts';
import { targetConfig } from '../support/target-config.ts';
import { runCli } from '../support/cli-process.ts';
import { configFileSchema } from '../../src/config/schema.ts';
import { COMMAND_STEPS } from '../../src/shared/probe-result.ts';
import type { CommandStep } from '../../src/shared/probe-result.ts';

const PASSWORD = 'probe-secret-Xq7Lz9';
const redactor = createSecretRedactor();
redactor.add(PASSWORD);
let counter = 0;

const probes: TargetProbe[] = [];
function probeFor(config: TargetConfig, credential?: Credential): TargetProbe {
  const probe = createTargetProbe(config, {
    clock: systemClock,
    ...(credential ? { credential } : {}),
    instanceId: 'test',
    randomValue: () => `value-${++counter}`,
    redactor,
  });
  probes.push(probe);
  return probe;
}

const servers: RedisServer[] = [];
async function redis(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const server = await startRedis(options);
  servers.push(server);
  return server;
}

after(async () => {
  await Promise.all(probes.map((probe) => probe.close()));
  await Promise.all(servers.map((server) => server.stop()));
});

describe('probe cycle against a real redis-server', { timeout: 60_000 }, () => {
  let plain: RedisServer;
  before(async () => {
    plain = await redis();
  });

  it('runs connect, PING, SET, GET, CLIENT LIST and reuses the connection', async () => {
    const probe = probeFor(targetConfig({ name: 'plain', port: plain.port }));
    const first = await probe.runCycle('schedule');
    assert.equal(first.success, true, JSON.stringify(first.failure));
    assert.deepEqual(
      first.steps.map((timing) => timing.step),
      ['connect', 'ping', 'set', 'get', 'client_list'],
    );
    assert.ok(first.steps.every((timing) => timing.durationMs > 0));
    assert.equal(first.observations.pingReply, 'PONG');
    assert.equal(first.observations.getValue, `value-${counter}`);
    assert.match(await plain.cli('CLIENT', 'LIST'), /name=redis-probe:test:plain /, 'the probe names its connection');
    assert.ok((first.observations.clientCount ?? 0) >= 1);
    assert.equal(first.observations.clients, undefined, 'the daemon keeps only the count');

    const second = await probe.runCycle('schedule');
    assert.equal(second.success, true);
    assert.deepEqual(
      second.steps.map((timing) => timing.step),
      ['ping', 'set', 'get', 'client_list'],
      'no reconnect',
    );
    // The probe key never outlives the probe.
    const ttl = Number(await plain.cli('TTL', 'redis-probe:plain:test'));
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
  });

  it('honours a chosen subset and order of steps', async () => {
    const probe = probeFor(targetConfig({ name: 'subset', port: plain.port, steps: ['get', 'ping'] }));
    const result = await probe.runCycle('manual');
    assert.equal(result.success, true);
    assert.deepEqual(
      result.steps.map((timing) => timing.step),
      ['connect', 'get', 'ping'],
    );
  });

  it('reports connection_refused at connect', async () => {
    const result = await probeFor(targetConfig({ port: await freePort() })).runCycle('schedule');
    assert.deepEqual([result.success, result.failure?.step, result.failure?.reason], [false, 'connect', 'connection_refused']);
  });

  it('reports dns for a name that does not resolve', async () => {
    const result = await probeFor(targetConfig({ host: 'no-such-host.invalid', port: 6379 })).runCycle('schedule');
    assert.deepEqual([result.failure?.step, result.failure?.reason], ['connect', 'dns']);
  });

  it('reports timeout against a paused server, then recovers on the next cycle with a fresh connection', async () => {
    const server = await redis();
    const probe = probeFor(targetConfig({ name: 'paused', port: server.port, timeoutMs: 300 }));
    assert.equal((await probe.runCycle('schedule')).success, true);
    server.pause();
    try {
      const stalled = await probe.runCycle('schedule');
      assert.deepEqual([stalled.failure?.step, stalled.failure?.reason], ['ping', 'timeout']);
    } finally {
      server.resume();
    }
    const recovered = await probe.runCycle('schedule');
    assert.equal(recovered.success, true, JSON.stringify(recovered.failure));
    assert.equal(recovered.steps[0]?.step, 'connect', 'a timed-out connection is replaced');
  });

  it('reconnects after the server restarts', async () => {
    const server = await redis();
    const probe = probeFor(targetConfig({ name: 'restarted', port: server.port }));
    assert.equal((await probe.runCycle('schedule')).success, true);
    await server.restart();
    const results = [await probe.runCycle('schedule'), await probe.runCycle('schedule')];
    assert.equal(results.at(-1)?.success, true, JSON.stringify(results.map((result) => result.failure)));
  });

  it('reports readonly on a replica and oom at maxmemory', async () => {
    const replica = await redis({ replicaOf: { host: plain.host, port: plain.port } });
    const readonly = await probeFor(targetConfig({ name: 'replica', port: replica.port })).runCycle('schedule');
    assert.deepEqual([readonly.failure?.step, readonly.failure?.reason], ['set', 'readonly']);

    const full = await redis({ maxmemory: '1b' });
    const oom = await probeFor(targetConfig({ name: 'full', port: full.port })).runCycle('schedule');
    assert.deepEqual([oom.failure?.step, oom.failure?.reason], ['set', 'oom']);
  });
});

describe('authentication with ACL users', { timeout: 60_000 }, () => {
  let server: RedisServer;
  before(async () => {
    server = await redis({
      password: PASSWORD,
      aclUsers: [
        { name: 'prober', password: PASSWORD, rules: '+@all ~* &*' },
        { name: 'no-client', password: PASSWORD, rules: '+@all -client|list ~* &*' },
        { name: 'no-set', password: PASSWORD, rules: '+@all -set ~* &*' },
      ],
    });
  });

  it('authenticates as an ACL user, timing auth as its own step', async () => {
    const probe = probeFor(targetConfig({ name: 'acl', port: server.port }), staticCredential('k', { username: 'prober', password: PASSWORD }));
    const result = await probe.runCycle('schedule');
    assert.equal(result.success, true, JSON.stringify(result.failure));
    assert.deepEqual(result.steps.map((timing) => timing.step).slice(0, 2), ['connect', 'auth']);
  });

  it('authenticates with a legacy password (default user)', async () => {
    const result = await probeFor(targetConfig({ name: 'legacy', port: server.port }), staticCredential('k', { password: PASSWORD })).runCycle('schedule');
    assert.equal(result.success, true, JSON.stringify(result.failure));
  });

  it('reports auth for a wrong password, without the password in the message', async () => {
    const wrong = `${PASSWORD}-wrong`;
    redactor.add(wrong);
    const result = await probeFor(targetConfig({ port: server.port }), staticCredential('k', { username: 'prober', password: wrong })).runCycle('schedule');
    assert.deepEqual([result.failure?.step, result.failure?.reason], ['auth', 'auth']);
    assert.ok(!result.failure?.message.includes(PASSWORD), result.failure?.message);
  });

  it('reports auth when no credential is configured for a protected server', async () => {
    const result = await probeFor(targetConfig({ port: server.port })).runCycle('schedule');
    assert.deepEqual([result.failure?.step, result.failure?.reason], ['ping', 'auth']);
  });

  it('reports noperm when the user may not SET', async () => {
    const result = await probeFor(targetConfig({ port: server.port }), staticCredential('k', { username: 'no-set', password: PASSWORD })).runCycle('schedule');
    assert.deepEqual([result.failure?.step, result.failure?.reason], ['set', 'noperm']);
  });

  it('treats a refused CLIENT LIST as unsupported, not as a failure', async () => {
    const result = await probeFor(targetConfig({ port: server.port }), staticCredential('k', { username: 'no-client', password: PASSWORD })).runCycle(
      'schedule',
    );
    assert.equal(result.success, true, JSON.stringify(result.failure));
    assert.deepEqual(result.unsupportedSteps, ['client_list']);
  });
});

describe('TLS', { timeout: 60_000 }, () => {
  let certs: TlsCerts;
  let server: RedisServer;
  before(async () => {
    certs = await generateTlsCerts(await mkdtemp(join(tmpdir(), 'redis-probe-tls-')));
    server = await redis({ tls: certs });
  });
  const tlsTarget = (overrides: Partial<TargetConfig['tls']>) =>
    targetConfig({ name: 'tls', host: 'localhost', port: server.port, tls: { enabled: true, verify: true, ca: certs.ca.certPem, ...overrides } });

  it('verifies the server against the configured CA and reads the certificate expiry', async () => {
    const result = await probeFor(tlsTarget({})).runCycle('schedule');
    assert.equal(result.success, true, JSON.stringify(result.failure));
    assert.equal(result.observations.serverCertNotAfterMs, certs.serverNotAfterMs);
  });

  it('fails with tls against an untrusted CA, and succeeds when verify is explicitly off', async () => {
    const untrusted = await probeFor(tlsTarget({ ca: certs.otherCa.certPem })).runCycle('schedule');
    assert.deepEqual([untrusted.failure?.step, untrusted.failure?.reason], ['connect', 'tls']);
    const unverified = await probeFor(tlsTarget({ ca: certs.otherCa.certPem, verify: false })).runCycle('schedule');
    assert.equal(unverified.success, true, JSON.stringify(unverified.failure));
  });

  it('fails with tls when the name does not match, unless servername says the right one', async () => {
    const mismatch = await probeFor(
      targetConfig({
        name: 'ip',
        host: '127.0.0.1',
        port: server.port,
        tls: { enabled: true, verify: true, ca: certs.ca.certPem, servername: 'wrong.example' },
      }),
    ).runCycle('schedule');
    assert.deepEqual([mismatch.failure?.step, mismatch.failure?.reason], ['connect', 'tls']);
    const named = await probeFor(
      targetConfig({ name: 'ip', host: '127.0.0.1', port: server.port, tls: { enabled: true, verify: true, ca: certs.ca.certPem, servername: 'localhost' } }),
    ).runCycle('schedule');
    assert.equal(named.success, true, JSON.stringify(named.failure));
  });

  it('fails with tls when plain TCP meets a TLS port', async () => {
    const result = await probeFor(targetConfig({ port: server.port, timeoutMs: 500 })).runCycle('schedule');
    assert.equal(result.success, false);
    assert.ok(['connection_reset', 'timeout'].includes(result.failure?.reason ?? ''), result.failure?.reason);
  });
});

describe('a refused AUTH is never papered over', { timeout: 30_000 }, () => {
  it('keeps failing with auth even though the default user needs no password', async () => {
    const server = await redis({ aclUsers: [{ name: 'prober', password: PASSWORD, rules: '+@all ~* &*' }] });
    const probe = probeFor(targetConfig({ name: 'wrongpass', port: server.port }), staticCredential('k', { username: 'prober', password: 'wrong-password-1' }));
    const reasons = [];
    for (let cycle = 0; cycle < 3; cycle++) reasons.push((await probe.runCycle('schedule')).failure?.reason);
    assert.deepEqual(reasons, ['auth', 'auth', 'auth']);
  });
});

describe('every order and subset of steps the schema accepts', { timeout: 120_000 }, () => {
  /** Every sequence of up to COMMAND_STEPS.length steps (repeats included), kept if the config schema accepts it. */
  function acceptedStepLists(): CommandStep[][] {
    let sequences: CommandStep[][] = [[]];
    const accepted: CommandStep[][] = [];
    for (let length = 1; length <= COMMAND_STEPS.length; length++) {
      sequences = sequences.flatMap((sequence) => COMMAND_STEPS.map((step) => [...sequence, step]));
      for (const steps of sequences) {
        if (configFileSchema.safeParse({ targets: [{ name: 't', host: 'h', steps }] }).success) accepted.push(steps);
      }
    }
    return accepted;
  }

  it('passes with `once` end to end on a real redis-server, on a first cycle and on one that finds the previous key', async () => {
    const lists = acceptedStepLists();
    // Any subset in any order, no repeats: 4 + 12 + 24 + 24.
    assert.equal(lists.length, 64);
    const server = await redis();
    const dir = await mkdtemp(join(tmpdir(), 'redis-probe-steps-'));
    const configPath = join(dir, 'config.yaml');
    const targets = lists.map(
      (steps) => `  - { name: ${steps.join('-')}, host: 127.0.0.1, port: ${server.port}, tls: { enabled: false }, steps: [${steps.join(', ')}] }`,
    );
    await writeFile(configPath, `targets:\n${targets.join('\n')}\n`);
    // The second run's GET finds the value the first run's SET left (the key lives 60 s), as a daemon's next cycle does.
    for (const run of [1, 2]) {
      const result = await runCli(['once', '--config', configPath], { timeoutMs: 60_000 });
      const failed = result.stdout.split('\n').filter((line) => line.startsWith('Summary:') && !line.includes(' OK in '));
      assert.deepEqual(
        failed,
        [],
        `run ${run}: ${result.stdout
          .split('\n')
          .filter((line) => line.includes('FAILED'))
          .join('\n')}`,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.split('\n').filter((line) => line.startsWith('Summary:')).length, lists.length);
    }
  });

  it('compares GET with SET only when SET ran earlier in the same cycle', async () => {
    const server = await redis();
    const probe = probeFor(targetConfig({ name: 'get-first', port: server.port, steps: ['ping', 'get', 'set'] }));
    const first = await probe.runCycle('schedule');
    assert.equal(first.success, true, JSON.stringify(first.failure));
    assert.equal(first.observations.getValue, null, 'nothing was SET yet');
    const written = `value-${counter}`;
    const second = await probe.runCycle('schedule');
    assert.equal(second.success, true, JSON.stringify(second.failure));
    assert.equal(second.observations.getValue, written, "GET read the previous cycle's value, not this one's");
  });
});
