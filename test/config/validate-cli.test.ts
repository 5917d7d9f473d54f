/** `validate` and `run` of the built CLI (dist/cli.js) on configs that must fail, or warn, before anything is probed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, runCli, spawnCli } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';
import { freePort } from '../support/free-port.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-validate-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('config errors through the CLI', { timeout: 60_000 }, () => {
  it('validate and run name the field of a misplaced key without printing the key', async () => {
    const secret = 's3cret-pw-"quoted\\Lm40';
    const config = await configFile(
      'misplaced-key.yaml',
      `credentials:
  - { name: k, type: access-key, passwordEnv: "\${REDIS_PW}" }
  - { name: e, type: entra, source: client-secret, tenantId: t, clientId: c, clientSecretEnv: "\${REDIS_PW}" }
  - { name: f, type: access-key, passwordFile: "\${REDIS_PW}" }
targets: [{ name: a, host: 127.0.0.1, credential: k, tls: { enabled: false } }]
`,
    );
    for (const command of ['validate', 'run']) {
      const run = await runCli([command, '--config', config], { env: { REDIS_PW: secret } });
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      for (const field of ['credentials[0].passwordEnv', 'credentials[1].clientSecretEnv', 'credentials[2].passwordFile']) {
        assert.ok(run.stderr.includes(`${field}: `), `${command} names ${field}:\n${run.stderr}`);
      }
      assert.match(run.stderr, /write passwordEnv: REDIS_PW/);
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), 's3cret-pw']) {
        assert.ok(!run.stdout.includes(form) && !run.stderr.includes(form), `${command} printed the key:\n${run.stderr}`);
      }
    }
  });

  it('run exits 2, naming the field, when server.port is in use or server.host is not an address of this machine', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const busyPort = (holder.address() as { port: number }).port;
    try {
      const target = `targets: [{ name: a, host: 127.0.0.1, port: ${await freePort()}, tls: { enabled: false } }]\n`;
      const busy = await configFile('busy-port.yaml', `server: { host: 127.0.0.1, port: ${busyPort} }\n${target}`);
      const inUse = await runCli(['run', '--config', busy]);
      assert.equal(inUse.code, 2, inUse.stderr);
      assert.match(
        inUse.stderr,
        new RegExp(`server\\.port: ${busyPort} on 127\\.0\\.0\\.1 is already in use; stop the process that holds it or choose another port`),
      );
      // 192.0.2.1 is TEST-NET-1: never an address of this machine.
      const foreign = await configFile('foreign-host.yaml', `server: { host: 192.0.2.1, port: ${await freePort()} }\n${target}`);
      const notLocal = await runCli(['run', '--config', foreign]);
      assert.equal(notLocal.code, 2, notLocal.stderr);
      assert.match(notLocal.stderr, /server\.host: 192\.0\.2\.1 is not an address of this machine; listen on 0\.0\.0\.0, :: or one of its own addresses/);
    } finally {
      holder.close();
    }
  });

  it('validate rejects a server.host that is neither an address nor a host name', async () => {
    const config = await configFile('bad-host.yaml', 'server: { host: "not a host!" }\ntargets: [{ name: a, host: h }]\n');
    const run = await runCli(['validate', '--config', config]);
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /server\.host: must be an IP address \(0\.0\.0\.0 for every IPv4 address, :: for every address\) or a host name/);
  });

  it('validate prints the load and warns of a schedule that cannot be met; run logs the warnings at start', async () => {
    const targets = Array.from({ length: 10_000 }, (_, index) => `  - { name: t${index}, host: 127.0.0.1, port: 1 }`).join('\n');
    const heavy = await configFile('heavy.yaml', `defaults: { schedule: "* * * * * *", timeout: 1ms, tls: { enabled: false } }\ntargets:\n${targets}\n`);
    const run = await runCli(['validate', '--config', heavy]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ {2}load: about 10000 cycles a second, 40000 commands a second, 10000 connections held open$/m);
    assert.match(run.stdout, /\nwarnings:\n {2}- targets\[0\], targets\[1\], targets\[2\] and 9997 more: timeout 1ms is below 10ms;/);
    assert.match(run.stdout, /\n {2}- this replica would run about 10000 cycles a second \(10000 targets\); above 1000 a second/);

    const httpPort = await freePort();
    const odd = await configFile(
      'odd-db.yaml',
      `server: { host: 127.0.0.1, port: ${httpPort} }\ntargets: [{ name: a, host: 127.0.0.1, port: ${await freePort()}, db: 99, tls: { enabled: false } }]\n`,
    );
    const daemon = spawnCli(['run', '--config', odd]);
    let stdout = '';
    daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = collect(daemon, 30_000);
    try {
      await waitFor(() => stdout.includes('redis-probe started'), { timeoutMs: 15_000, intervalMs: 50, message: 'the daemon to start' });
    } finally {
      daemon.kill('SIGTERM');
    }
    await exited;
    const warning = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.message === 'configuration warning');
    assert.equal(warning?.level, 'warn', stdout);
    assert.match(String(warning?.warning), /^targets\[0\]: db 99 is above 15;/);
  });
});
