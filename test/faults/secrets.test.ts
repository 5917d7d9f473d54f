import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { systemClock } from '../../src/shared/clock.ts';
import { staticCredential } from '../../src/credentials/credential.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { createTargetRunner } from '../../src/daemon/target-runner.ts';
import type { SecretRedactor } from '../../src/shared/secrets.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultMode, FaultProxy } from '../support/fault-proxy.ts';
import { freePort } from '../support/free-port.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { waitFor } from '../support/wait.ts';
import { faultTarget } from './support.ts';

// Recognisable secrets, given to the daemon every way a config can (inline, file, env), right and wrong, while
// targets fail in every way that involves them: refused, wrong password, no permission, garbled, reset and stalled AUTH.
const DEFAULT_PASSWORD = 'SECRET-default-requirepass-Kq81';
const ACL_PASSWORD = 'SECRET-acl-prober-Zt27';
const NOSET_PASSWORD = 'SECRET-acl-noset-Wm64';
const WRONG_PASSWORD = 'SECRET-wrong-password-Pr39';
const SECRETS = [DEFAULT_PASSWORD, ACL_PASSWORD, NOSET_PASSWORD, WRONG_PASSWORD];
const PROXY_MODES: readonly FaultMode[] = ['garbage', 'reset-mid-reply', 'stall'];

let server: RedisServer;
let proxies: FaultProxy[];
let dir: string;
let daemon: ChildProcessWithoutNullStreams | undefined;

before(async () => {
  server = await startRedis({
    password: DEFAULT_PASSWORD,
    aclUsers: [
      { name: 'prober', password: ACL_PASSWORD, rules: '+@all ~* &*' },
      { name: 'noset', password: NOSET_PASSWORD, rules: '+@all -set ~* &*' },
    ],
  });
  proxies = await Promise.all(PROXY_MODES.map(() => startFaultProxy({ host: server.host, port: server.port })));
  await Promise.all(proxies.map((proxy, index) => proxy.setMode(PROXY_MODES[index]!)));
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-secrets-'));
});

after(async () => {
  if (daemon?.exitCode === null) daemon.kill('SIGKILL');
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Every occurrence of a secret (or of a long slice of one) in `text`. */
function leaks(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret) || text.includes(secret.slice(7)));
}

describe('secrets never reach logs, metrics, the status page or failure messages', { timeout: 60_000 }, () => {
  it('the spawned daemon: stdout, stderr, /metrics and / carry none of them', async (t) => {
    await writeFile(join(dir, 'prober-key'), `${ACL_PASSWORD}\n`);
    const httpPort = await freePort();
    const [garbage, reset, stall] = proxies.map((proxy) => proxy.port);
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 1s }
log: { level: debug }
defaults: { schedule: "* * * * * *", timeout: 300ms, tls: { enabled: false } }
credentials:
  - { name: inline, type: access-key, password: "${DEFAULT_PASSWORD}" }
  - { name: from-file, type: access-key, username: prober, passwordFile: prober-key }
  - { name: from-env, type: access-key, username: noset, passwordEnv: REDIS_PROBE_TEST_NOSET }
  - { name: wrong, type: access-key, username: prober, password: "\${REDIS_PROBE_TEST_WRONG}" }
targets:
  - { name: inline-ok, host: 127.0.0.1, port: ${server.port}, credential: inline }
  - { name: file-ok, host: 127.0.0.1, port: ${server.port}, credential: from-file }
  - { name: env-noperm, host: 127.0.0.1, port: ${server.port}, credential: from-env }
  - { name: wrong-password, host: 127.0.0.1, port: ${server.port}, credential: wrong }
  - { name: garbled-auth, host: 127.0.0.1, port: ${garbage}, credential: from-file }
  - { name: reset-auth, host: 127.0.0.1, port: ${reset}, credential: inline }
  - { name: stalled-auth, host: 127.0.0.1, port: ${stall}, credential: from-env }
  - { name: refused-auth, host: 127.0.0.1, port: ${await freePort()}, credential: wrong }
`,
    );
    daemon = spawnCli(['run', '--config', config], { REDIS_PROBE_TEST_NOSET: NOSET_PASSWORD, REDIS_PROBE_TEST_WRONG: WRONG_PASSWORD });
    const exited = collect(daemon, 30_000);
    const base = `http://127.0.0.1:${httpPort}`;
    const pages: string[] = [];
    const scrape = async () => {
      const [metrics, status] = await Promise.all([(await fetch(`${base}/metrics`)).text(), (await fetch(`${base}/`)).text()]);
      pages.push(metrics, status);
      return metrics;
    };
    // Three cycles of every target, so every fault has shown up more than once.
    await waitFor(
      async () => {
        const text = await scrape().catch(() => '');
        return ['inline-ok', 'stalled-auth', 'refused-auth', 'garbled-auth'].every(
          (target) => (sampleValue(text, 'redis_probe_cycles_total', { target }) ?? 0) >= 3,
        );
      },
      { timeoutMs: 15_000, intervalMs: 250, message: 'three cycles of every target' },
    );
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const reasonOf = (target: string) =>
      new Set(
        lines.filter((line) => line.target === target && line.message === 'probe cycle failed').map((line) => `${String(line.step)}/${String(line.reason)}`),
      );
    // The faults really happened, with the secrets in play.
    assert.deepEqual([...reasonOf('inline-ok'), ...reasonOf('file-ok')], []);
    assert.ok(reasonOf('env-noperm').has('set/noperm'));
    assert.ok(reasonOf('wrong-password').has('auth/auth'));
    assert.ok(reasonOf('refused-auth').has('connect/connection_refused'));
    for (const target of ['garbled-auth', 'reset-auth', 'stalled-auth']) assert.ok(reasonOf(target).size > 0, `${target} failed`);
    t.diagnostic(
      `scanned ${lines.length} log lines, ${run.stderr.length} bytes of stderr and ${pages.length} pages; failures seen: ` +
        ['env-noperm', 'wrong-password', 'garbled-auth', 'reset-auth', 'stalled-auth', 'refused-auth']
          .map((target) => `${target} ${[...reasonOf(target)].join('+')}`)
          .join(', '),
    );
    assert.deepEqual(leaks(run.stdout), [], 'stdout');
    assert.deepEqual(leaks(run.stderr), [], 'stderr');
    for (const page of pages) assert.deepEqual(leaks(page), [], 'an HTTP page');
  });

  it('CycleResult failure messages carry none of them even with redaction switched off', async (t) => {
    // A redactor that knows nothing: the probe must not put secrets into messages to begin with.
    const blind: SecretRedactor = { add: () => undefined, remove: () => undefined, redact: (text) => text };
    const cases = [
      { port: server.port, username: 'prober', password: WRONG_PASSWORD },
      { port: server.port, username: undefined, password: WRONG_PASSWORD },
      { port: server.port, username: 'noset', password: NOSET_PASSWORD },
      ...proxies.map((proxy) => ({ port: proxy.port, username: 'prober', password: ACL_PASSWORD })),
      { port: await freePort(), username: undefined, password: DEFAULT_PASSWORD },
    ];
    const results: CycleResult[] = [];
    for (const [index, { port, username, password }] of cases.entries()) {
      const runner = createTargetRunner(faultTarget(`secret-${index}`, port, { credential: 'c', timeoutMs: 300 }), {
        clock: systemClock,
        credential: staticCredential('c', { ...(username !== undefined ? { username } : {}), password }),
        instanceId: 'secrets',
        randomValue: () => 'value',
        redactor: blind,
      });
      try {
        for (let cycle = 0; cycle < 2; cycle++) results.push(...(await runner.run('manual')));
      } finally {
        await runner.close();
      }
    }
    const failures = results.flatMap((result) => (result.failure ? [result.failure] : []));
    assert.equal(failures.length, results.length, 'every case failed');
    t.diagnostic(`${failures.length} failures: ${[...new Set(failures.map((failure) => `${failure.step}/${failure.reason}`))].join(', ')}`);
    assert.deepEqual(leaks(JSON.stringify(results)), []);
  });

  it('a reload whose passwordEnv holds a key with a quote and a backslash does not log the key', async () => {
    // The mistake this guards: `passwordEnv: "${VAR}"` puts the key itself where a variable name belongs.
    const key = 'SECRET-quote"and\\backslash-Jx58';
    const keyForms = [key, JSON.stringify(key).slice(1, -1), key.slice(7, 20)];
    // ACL SETUSER takes the password as one binary-safe argument; a config line would need quoting.
    await server.call('ACL', 'SETUSER', 'quoted', 'on', `>${key}`, '+@all', '~*', '&*');
    const httpPort = await freePort();
    const config = join(dir, 'reload-quoted.yaml');
    const configText = (passwordEnv: string) => `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 1s }
log: { level: debug }
defaults: { schedule: "* * * * * *", timeout: 500ms, tls: { enabled: false } }
credentials:
  - { name: quoted, type: access-key, username: quoted, passwordEnv: "${passwordEnv}" }
targets:
  - { name: quoted-ok, host: 127.0.0.1, port: ${server.port}, credential: quoted }
`;
    await writeFile(config, configText('REDIS_PROBE_TEST_QUOTED'));
    const child = spawnCli(['run', '--config', config], { REDIS_PROBE_TEST_QUOTED: key });
    const exited = collect(child, 30_000);
    try {
      const metric = async (name: string, labels: Record<string, string> = {}) =>
        sampleValue(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text().catch(() => ''), name, labels);
      await waitFor(async () => ((await metric('redis_probe_success', { target: 'quoted-ok' }).catch(() => undefined)) ?? 0) === 1, {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: 'the target to authenticate with the key',
      });
      await writeFile(config, configText('$' + '{REDIS_PROBE_TEST_QUOTED}'));
      child.kill('SIGHUP');
      await waitFor(async () => (await metric('redis_probe_config_last_reload_successful').catch(() => undefined)) === 0, {
        timeoutMs: 10_000,
        intervalMs: 100,
        message: 'the reload to fail',
      });
    } finally {
      child.kill('SIGTERM');
    }
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    const failed = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.message === 'configuration reload failed: the running configuration stays in force');
    assert.ok(failed, `the failed reload is logged:\n${run.stdout}`);
    assert.match(JSON.stringify(failed.issues), /credentials\[0\]\.passwordEnv/);
    for (const form of keyForms) {
      assert.ok(!run.stdout.includes(form), `stdout holds ${form}`);
      assert.ok(!run.stderr.includes(form), `stderr holds ${form}`);
    }
  });
});
