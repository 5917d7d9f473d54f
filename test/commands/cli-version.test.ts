import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, runCli, spawnCli } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';

const { version } = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

describe('redis-probe --version', { timeout: 30_000 }, () => {
  for (const flag of ['--version', '-v']) {
    it(`${flag} prints the package version and exits 0`, async () => {
      const run = await runCli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `redis-probe ${version}\n`);
      assert.equal(run.stderr, '');
    });
  }
});

describe('every log line of the daemon carries service.name and service.version', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let dir: string;

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-version-'));
  });
  after(async () => {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('start-up, cycle, state-change and shutdown lines all name the service', async () => {
    const httpPort = await freePort();
    await writeFile(
      join(dir, 'config.yaml'),
      `server: { host: 127.0.0.1, port: ${httpPort} }
log: { level: debug }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
targets:
  - { name: up, host: 127.0.0.1, port: ${redis.port} }
  - { name: down, host: 127.0.0.1, port: ${await freePort()} }
`,
    );
    const daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')]);
    const exited = collect(daemon, 60_000);
    let stdout = '';
    daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('"target":"down"') && stdout.includes('"target":"up"'), { timeoutMs: 15_000, message: 'cycle lines of both targets' });
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.length >= 4, `${lines.length} lines`);
    for (const line of lines) {
      assert.equal(line['service.name'], 'redis-probe', JSON.stringify(line));
      assert.equal(line['service.version'], version, JSON.stringify(line));
    }
    const started = lines.find((line) => line['message'] === 'redis-probe started');
    assert.equal(started?.['version'], version);
  });
});
