import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEMORY_ENV, MEMORY_NODE_FLAGS } from '../../src/commands/memory-settings.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';

// What a user runs: package.json's bin (the `redis-probe` command), and `npm start`.
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const BIN_PATH = join(REPO_ROOT, packageJson.bin['redis-probe']!);
/** Makes this Node look like a platform without execve (Windows), so the bin takes its child-process path. */
const WITHOUT_EXECVE = ['--import', 'data:text/javascript,delete process.execve'];

let server: RedisServer;
let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];

before(async () => {
  server = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-bin-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The user's environment, without memory settings of its own. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !(name in MEMORY_ENV)));
}

/** A daemon config on a port of its own, so no test reads another's daemon. */
async function daemonConfig(name: string): Promise<{ path: string; healthy: () => Promise<unknown> }> {
  const httpPort = await freePort();
  const path = join(dir, `${name}.yaml`);
  await writeFile(
    path,
    `server: { host: 127.0.0.1, port: ${httpPort} }
targets:
  - { name: good, host: 127.0.0.1, port: ${server.port}, tls: { enabled: false }, schedule: "* * * * * *" }
`,
  );
  const healthy = () =>
    waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'the daemon to answer /healthz',
    });
  return { path, healthy };
}

function startBin(args: readonly string[], nodeArgs: readonly string[] = []): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [...nodeArgs, BIN_PATH, ...args], { env: userEnv(), stdio: 'pipe' });
  children.push(child);
  return child;
}

/** The command line and environment the kernel holds for a process. */
function procOf(pid: number): { cmdline: string[]; environ: string[] } {
  const read = (file: string) =>
    readFileSync(`/proc/${pid}/${file}`, 'utf8')
      .split('\0')
      .filter((entry) => entry !== '');
  return { cmdline: read('cmdline'), environ: read('environ') };
}

function assertMemorySettings(pid: number, configPath: string): void {
  const { cmdline, environ } = procOf(pid);
  const script = cmdline.findIndex((arg) => arg.endsWith('cli.js'));
  assert.notEqual(script, -1, `runs dist/cli.js: ${cmdline.join(' ')}`);
  for (const flag of MEMORY_NODE_FLAGS) assert.ok(cmdline.slice(1, script).includes(flag), `node ${flag} before the script: ${cmdline.join(' ')}`);
  assert.deepEqual(cmdline.slice(script + 1), ['run', '--config', configPath]);
  for (const [name, value] of Object.entries(MEMORY_ENV)) assert.ok(environ.includes(`${name}=${value}`), `${name}=${value} in the environment`);
}

/** The one child process of `pid` (the daemon the launcher started). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(' ')
    .filter((entry) => entry !== '');
  assert.equal(children.length, 1, `one child process of the launcher, found ${JSON.stringify(children)}`);
  const child = Number(children[0]);
  assert.ok(Number.isInteger(child) && child > 0 && child !== pid);
  return child;
}

describe('the redis-probe bin', { timeout: 60_000 }, () => {
  it('is what `npm start` runs', () => {
    const [node, script] = packageJson.scripts['start']!.split(' ');
    assert.equal(node, 'node');
    assert.equal(join(REPO_ROOT, script!), BIN_PATH);
  });

  it('runs the daemon with the memory settings in its own process; SIGTERM to it shuts the daemon down gracefully, exit 0', async () => {
    const config = await daemonConfig('execve');
    const child = startBin(['run', '--config', config.path]);
    const exited = collect(child, 30_000);
    await config.healthy();
    // The process the user started is the daemon: no launcher left in front of it.
    assertMemorySettings(child.pid!, config.path);
    child.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"shutting down"/);
    assert.match(run.stdout, /"stopped"/);
  });

  it("exits with the CLI's code", async () => {
    const invalid = await collect(startBin(['validate', '--config', join(dir, 'missing.yaml')]), 30_000);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /missing\.yaml/);
    const refused = join(dir, 'refused.yaml');
    await writeFile(refused, `targets:\n  - { name: refused, host: 127.0.0.1, port: ${await freePort()}, tls: { enabled: false }, timeout: 1s }\n`);
    const once = await collect(startBin(['once', '--config', refused]), 30_000);
    assert.equal(once.code, 1, once.stderr);
    assert.match(once.stdout, /FAILED at connect/);
  });

  describe('without execve (Windows)', () => {
    it('runs the daemon as a child with the memory settings; SIGTERM reaches it, and its exit code comes back', async () => {
      const config = await daemonConfig('spawn');
      const launcher = startBin(['run', '--config', config.path], WITHOUT_EXECVE);
      const exited = collect(launcher, 30_000);
      await config.healthy();
      assertMemorySettings(childOf(launcher.pid!), config.path);
      launcher.kill('SIGTERM');
      const run = await exited;
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /"shutting down"/);
      assert.match(run.stdout, /"stopped"/);

      const invalid = await collect(startBin(['validate', '--config', join(dir, 'missing.yaml')], WITHOUT_EXECVE), 30_000);
      assert.equal(invalid.code, 2);
    });

    it('ends by the signal that ended the daemon', async () => {
      const config = await daemonConfig('killed');
      const launcher = startBin(['run', '--config', config.path], WITHOUT_EXECVE);
      const exited = collect(launcher, 30_000);
      await config.healthy();
      process.kill(childOf(launcher.pid!), 'SIGKILL');
      const run = await exited;
      assert.equal(run.signal, 'SIGKILL');
    });
  });
});
