/**
 * The built CLI (what the image runs) against a config mounted the way Kubernetes mounts a ConfigMap:
 * an update swaps the `..data` symlink, and the daemon reloads without a restart. Run
 * `tsc -p tsconfig.json` first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { freePort } from '../support/free-port.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { delay, waitFor } from '../support/wait.ts';

let server: RedisServer;
let dir: string;
let base: string;
let daemon: ChildProcessWithoutNullStreams;
let exited: Promise<CliRun>;
let generation = 0;
let current = '';
let stdout = '';

const metrics = async () => (await fetch(`${base}/metrics`)).text();
const value = async (name: string, labels: Record<string, string> = {}) => sampleValue(await metrics().catch(() => ''), name, labels);
const logLines = () =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function configText(targets: string[], httpPort: number): Promise<string> {
  return `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 2s }
defaults: { schedule: "* * * * * *", timeout: 500ms, tls: { enabled: false } }
targets:
${targets.map((name) => `  - { name: ${name}, host: 127.0.0.1, port: ${server.port} }`).join('\n')}
`;
}

/** Writes a new `..<timestamp>` dir and renames a fresh `..data` symlink over the old one, as the kubelet does. */
async function publishConfigMap(text: string): Promise<void> {
  const name = `..2025_06_01_00_00_${String(generation).padStart(2, '0')}.000000000`;
  generation += 1;
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, 'config.yaml'), text);
  if (current === '') {
    await symlink(name, join(dir, '..data'));
    await symlink('..data/config.yaml', join(dir, 'config.yaml'));
  } else {
    await symlink(name, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, current), { recursive: true });
  }
  current = name;
}

let httpPort: number;
before(async () => {
  server = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-cli-reload-'));
  httpPort = await freePort();
  base = `http://127.0.0.1:${httpPort}`;
  await publishConfigMap(await configText(['first'], httpPort));
  daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')]);
  daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  exited = collect(daemon, 60_000);
  await waitFor(async () => ((await value('redis_probe_cycles_total', { target: 'first' })) ?? 0) >= 1, {
    timeoutMs: 15_000,
    intervalMs: 100,
    message: 'the daemon to run its first cycle',
  });
});
after(async () => {
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('hot reload of the spawned daemon', { timeout: 50_000 }, () => {
  it('picks up a ConfigMap-style symlink swap: the new target starts, the old one keeps counting', async () => {
    const before = (await value('redis_probe_cycles_total', { target: 'first' })) ?? 0;
    await publishConfigMap(await configText(['first', 'second'], httpPort));
    await waitFor(async () => ((await value('redis_probe_cycles_total', { target: 'second' })) ?? 0) >= 1, {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'the added target to be probed',
    });
    assert.ok(((await value('redis_probe_cycles_total', { target: 'first' })) ?? 0) >= before, 'not restarted: the counter did not reset');
    assert.equal(await value('redis_probe_config_last_reload_successful'), 1);
    const reloaded = logLines().find((line) => line['message'] === 'configuration reloaded');
    assert.equal(reloaded?.['trigger'], 'file_changed');
    assert.deepEqual(reloaded?.['added'], ['second']);
  });

  it('an invalid update is refused: the gauge drops to 0, every issue is logged, probing goes on', async () => {
    await publishConfigMap('targets:\n  - { name: broken, host: h, port: 0 }\n  - { name: broken, host: h, colour: red }\n');
    await waitFor(async () => (await value('redis_probe_config_last_reload_successful')) === 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'the failed reload to show',
    });
    const failed = logLines().find((line) => line['message'] === 'configuration reload failed: the running configuration stays in force');
    const issues = failed?.['issues'] as string[];
    assert.ok(
      issues.some((issue) => issue.includes('targets[0].port: must be 1-65535')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((issue) => issue.includes('targets[1]: unknown key "colour"')),
      issues.join('\n'),
    );
    const count = (await value('redis_probe_cycles_total', { target: 'second' })) ?? 0;
    await waitFor(async () => ((await value('redis_probe_cycles_total', { target: 'second' })) ?? 0) > count, { message: 'probing to go on' });
  });

  it('SIGHUP reloads on demand; the removed target disappears from /metrics', async () => {
    // Written in place (no symlink swap) and signalled at once: the reload is the signal's.
    await writeFile(join(dir, current, 'config.yaml'), await configText(['second'], httpPort));
    daemon.kill('SIGHUP');
    await waitFor(async () => (await value('redis_probe_cycles_total', { target: 'first' })) === undefined, {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'the removed target to vanish',
    });
    assert.equal(await value('redis_probe_config_last_reload_successful'), 1);
    assert.ok(logLines().some((line) => line['message'] === 'configuration reloaded' && line['trigger'] === 'SIGHUP'));
    await delay(500);
    assert.equal(daemon.exitCode, null, 'SIGHUP does not stop the daemon');
  });

  it('still stops cleanly on SIGTERM', async () => {
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
  });
});
