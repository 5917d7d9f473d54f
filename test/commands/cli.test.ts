import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { CLI_PATH, collect, runCli, spawnCli } from '../support/cli-process.ts';

const SECRET = 'cli-test-secret-7hQ2';
let server: RedisServer;
let dir: string;
let configPath: string;

before(async () => {
  server = await startRedis({ aclUsers: [{ name: 'prober', password: SECRET, rules: '+@all ~* &*' }] });
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-cli-'));
  await writeFile(join(dir, 'key'), `${SECRET}\n`);
  configPath = join(dir, 'config.yaml');
  await writeFile(
    configPath,
    `credentials:
  - { name: key, type: access-key, username: prober, passwordFile: key }
targets:
  - { name: good, host: 127.0.0.1, port: ${server.port}, credential: key, tls: { enabled: false } }
  - { name: refused, host: 127.0.0.1, port: ${await freePort()}, tls: { enabled: false }, timeout: 1s }
`,
  );
});
after(() => server.stop());

describe('redis-probe once', { timeout: 60_000 }, () => {
  it('prints the quickstart checks and a summary, exit 0 when the target passes', async () => {
    const run = await runCli(['once', '--config', configPath, '--target', 'good']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines[0], `== good (127.0.0.1:${server.port}, tls off)`);
    assert.equal(lines[1], 'Authenticated as : prober');
    assert.equal(lines[2], 'Ping returned : True');
    assert.equal(lines[3], 'SET Message returned : True');
    assert.match(lines[4] ?? '', /^GET Message returned : [0-9a-f-]{36}$/);
    assert.equal(lines[5], 'CLIENT LIST returned :');
    assert.match(lines[6] ?? '', /^id : \d+, addr : 127\.0\.0\.1:\d+$/);
    assert.match(
      lines.at(-1) ?? '',
      /^Summary: good OK in [\d.]+ ms \(connect [\d.]+ ms, auth [\d.]+ ms, ping [\d.]+ ms, set [\d.]+ ms, get [\d.]+ ms, client_list [\d.]+ ms\), \d+ clients$/,
    );
    assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
  });

  it('exits 1 when any target fails, reporting step and reason', async () => {
    const run = await runCli(['once', '--config', configPath]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /FAILED at connect: connection_refused/);
    assert.match(run.stdout, /Summary: refused FAILED/);
    assert.match(run.stdout, /Summary: good OK/);
  });

  it('exits 2 for an unknown target name and for a missing config', async () => {
    assert.equal((await runCli(['once', '--config', configPath, '--target', 'nope'])).code, 2);
    const missing = await runCli(['once']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--config FILE \(or REDIS_PROBE_CONFIG\) is required/);
  });

  it('takes the config from REDIS_PROBE_CONFIG', async () => {
    const run = await runCli(['once', '--target', 'good'], { env: { REDIS_PROBE_CONFIG: configPath } });
    assert.equal(run.code, 0, run.stderr);
  });
});

describe('redis-probe validate', { timeout: 30_000 }, () => {
  it('exits 0 with a summary for a good config', async () => {
    const run = await runCli(['validate', '--config', configPath]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^configuration is valid\n {2}targets: 2 \(good, refused\)/);
  });

  it('exits 2 listing every error by field path, without a stack trace', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'targets:\n  - { name: a, host: h, port: 0 }\n  - { name: a, host: h, colour: blue }\n');
    const run = await runCli(['validate', '--config', bad]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /targets\[0\]\.port: must be 1-65535/);
    assert.match(run.stderr, /targets\[1\]: unknown key "colour"; remove or correct it/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('exits 2 on an unknown command, printing usage', async () => {
    const run = await runCli(['frobnicate']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /usage: redis-probe/);
  });
});

describe('exit codes, crashes and the entry point', { timeout: 60_000 }, () => {
  it('once exits 74 when stdout is closed (EPIPE), never 0, and says why on stderr', async () => {
    const child = spawnCli(['once', '--config', configPath, '--target', 'good']);
    // What `redis-probe once ... | head -c0` does: the reader is gone before the report is written.
    child.stdout.destroy();
    const run = await collect(child, 30_000);
    assert.equal(run.code, 74, run.stderr);
    assert.match(run.stderr, /could not write the report to stdout: EPIPE/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  for (const how of ['thrown', 'rejected'] as const) {
    it(`a crash (an ioredis AUTH error ${how === 'thrown' ? 'thrown from a callback' : 'nobody handles'}) is logged redacted and exits 70`, async () => {
      const wrongKey = `crash-wrong-key-${how}-Vb93`;
      const child = spawn(process.execPath, [join(import.meta.dirname, 'crash-child.ts'), String(server.port), 'prober', wrongKey, how], { stdio: 'pipe' });
      const run = await collect(child, 30_000);
      assert.equal(run.code, 70, `${run.stdout}${run.stderr}`);
      assert.ok(!`${run.stdout}${run.stderr}`.includes(wrongKey), 'the password never appears');
      assert.equal(run.stderr, '');
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(lines.length, 1);
      assert.equal(lines[0]?.message, 'fatal error');
      assert.equal(lines[0]?.level, 'error');
      assert.match(String(lines[0]?.error), /WRONGPASS/);
    });
  }

  it('importing the CLI module runs nothing; the bin works through a symlink, as npm installs it', async () => {
    const imported = await collect(
      spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(CLI_PATH)}); process.stdout.write('imported\\n');`], {
        stdio: 'pipe',
      }),
      30_000,
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, 'imported\n');
    assert.equal(imported.stderr, '');
    const bin = join(dir, 'redis-probe');
    await symlink(CLI_PATH, bin);
    const run = await collect(spawn(process.execPath, [bin, '--config', configPath, 'validate'], { stdio: 'pipe' }), 30_000);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^configuration is valid/);
  });

  it('documents every exit code in the usage text', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    for (const code of ['0', '1', '2', '70', '74', '130, 143']) assert.match(run.stdout, new RegExp(`\\n  ${code} +\\S`), `exit code ${code}`);
  });
});
