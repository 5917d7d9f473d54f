/** `validate` and `run` of the built CLI (dist/cli.js) on configs that must fail, or warn, before anything is probed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.ts';
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
      assert.match(inUse.stderr, new RegExp(`server\\.port: ${busyPort} on 127\\.0\\.0\\.1 is already in use; stop the process that holds it or choose another port`));
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
});
