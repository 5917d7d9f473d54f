import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { freePort } from '../support/free-port.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import { startFakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import type { FakeTokenEndpoint } from '../support/fake-token-endpoint.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { delay, waitFor } from '../support/wait.ts';

// The spawned daemon (dist/cli.js) is stopped while its cycles hang on stalled targets (timeout 5 s, grace 2 s).
const GRACE_MS = 2_000;
/** Process exit, closing sockets and flushing logs after the grace period. */
const EXIT_SLACK_MS = 1_000;

let server: RedisServer;
let proxies: FaultProxy[] = [];
let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];

before(async () => {
  server = await startRedis();
  proxies = await Promise.all([1, 2].map(() => startFaultProxy({ host: server.host, port: server.port })));
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-shutdown-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Starts a daemon probing a healthy target and two stalled ones, and resolves once both stalled cycles are in
 * flight: stalled-1 on an established connection (PING unanswered), stalled-2 while connecting.
 */
async function startStalledDaemon(name: string) {
  const httpPort = await freePort();
  const config = join(dir, `${name}.yaml`);
  await writeFile(
    config,
    `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: ${GRACE_MS}ms }
defaults: { schedule: "* * * * * *", timeout: 5s, tls: { enabled: false } }
targets:
  - { name: healthy, host: 127.0.0.1, port: ${server.port} }
  - { name: stalled-1, host: 127.0.0.1, port: ${proxies[0]!.port} }
  - { name: stalled-2, host: 127.0.0.1, port: ${proxies[1]!.port} }
`,
  );
  await proxies[0]!.setMode('pass');
  await proxies[1]!.setMode('stall');
  const child = spawnCli(['run', '--config', config]);
  children.push(child);
  const exited = collect(child, 30_000);
  const metrics = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  await waitFor(async () => (sampleValue(await metrics(), 'redis_probe_success', { target: 'stalled-1' }) ?? 0) === 1, {
    timeoutMs: 10_000,
    intervalMs: 100,
    message: 'stalled-1 to succeed before its proxy stalls',
  });
  await proxies[0]!.setMode('stall');
  const before = sampleValue(await metrics(), 'redis_probe_cycles_total', { target: 'stalled-1' });
  // Every target starts a cycle within any one-second window; the stalled ones then hang for up to 5 s.
  await delay(1_200);
  const text = await metrics();
  assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'stalled-1' }), before, 'the stalled cycle is still in flight');
  assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'stalled-2' }), 0, 'stalled-2 is still connecting');
  return { child, exited };
}

describe('shutdown with cycles in flight against stalled targets', { timeout: 60_000 }, () => {
  it('SIGTERM: exits 0 within the grace period, logging "stopped" last, with every connection closed', async (t) => {
    const { child, exited } = await startStalledDaemon('term');
    const signalledAtMs = performance.now();
    child.kill('SIGTERM');
    const run = await exited;
    const tookMs = performance.now() - signalledAtMs;
    t.diagnostic(`SIGTERM → exit ${run.code} after ${Math.round(tookMs)} ms (grace ${GRACE_MS} ms)`);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(tookMs < GRACE_MS + EXIT_SLACK_MS, `exited after ${Math.round(tookMs)} ms`);
    assert.ok(tookMs >= GRACE_MS - 100, 'in-flight cycles got their grace period');
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(lines.some((line) => line.message === 'shutting down' && line.signal === 'SIGTERM'));
    assert.ok(lines.some((line) => line.message === 'grace period over: abandoning cycles still in flight'));
    assert.equal(lines.at(-1)?.message, 'stopped', 'the last line says the daemon stopped');
    assert.equal(run.stderr, '');
    await waitFor(() => proxies.every((proxy) => proxy.connectionCount() === 0), { timeoutMs: 2_000, message: 'stalled connections closed' });
  });

  for (const [second, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`SIGTERM then ${second}: the second signal exits at once with ${code} (128 + signal number)`, async (t) => {
      const { child, exited } = await startStalledDaemon(`twice-${second}`);
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.kill('SIGTERM');
      // The second signal must arrive after the first was handled (it logs "shutting down").
      await waitFor(() => stdout.includes('"shutting down"'), { timeoutMs: 2_000, message: 'the first signal to be handled' });
      const secondAtMs = performance.now();
      child.kill(second);
      const run = await exited;
      const tookMs = performance.now() - secondAtMs;
      t.diagnostic(`SIGTERM then ${second} → exit ${run.code} after ${Math.round(tookMs)} ms`);
      assert.equal(run.code, code);
      assert.ok(tookMs < 500, `the second signal exited after ${Math.round(tookMs)} ms`);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(lines.at(-1)?.message, 'second signal: exiting at once');
    });
  }
});

/** The JSON lines a run printed, in order. */
const logLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('shutdown is bounded by server.shutdownGrace whatever is in flight', { timeout: 60_000 }, () => {
  // A cycle would hang for 60 s (the probe timeout), well past this test's own 30 s timeout, so an exit at all
  // shows that shutdown did not wait for it.
  const HANG = '60s';
  let endpoint: FakeTokenEndpoint | undefined;
  after(() => endpoint?.close());

  it('SIGTERM while a reload waits on an in-flight cycle of a target it restarts: exits, the reload never applies', { timeout: 30_000 }, async () => {
    const httpPort = await freePort();
    const config = join(dir, 'reload-term.yaml');
    const write = (timeout: string) =>
      writeFile(
        config,
        `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 1s }
log: { level: debug }
defaults: { schedule: "* * * * * *", tls: { enabled: false } }
targets:
  - { name: hanging, host: 127.0.0.1, port: ${proxies[0]!.port}, timeout: ${timeout} }
`,
      );
    await write(HANG);
    await proxies[0]!.setMode('pass');
    const child = spawnCli(['run', '--config', config]);
    children.push(child);
    const exited = collect(child, 30_000);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('"probe cycle succeeded"'), { timeoutMs: 10_000, message: 'a first good cycle' });
    await proxies[0]!.setMode('stall');
    // The next tick finds the stalled cycle still running: from then on it is certainly in flight.
    await waitFor(() => stdout.includes('"cycle skipped: the previous one is still running"'), { timeoutMs: 10_000, message: 'a cycle in flight' });
    // A changed target restarts, so the reload waits for its in-flight cycle to end.
    await write('59s');
    child.kill('SIGHUP');
    await waitFor(() => stdout.includes('"configuration reload started"'), { timeoutMs: 5_000, message: 'the reload to start' });
    child.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.signal, null, 'exited on its own, not killed by the test');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const messages = logLines(run.stdout).map((line) => line.message);
    const shuttingDown = messages.indexOf('shutting down');
    assert.ok(shuttingDown >= 0, 'shutting down');
    assert.ok(messages.indexOf('configuration reload started') < shuttingDown);
    assert.ok(messages.indexOf('grace period over: abandoning cycles still in flight') > shuttingDown);
    assert.ok(!messages.includes('configuration reloaded'), 'the reload never applied');
    assert.ok(!messages.includes('configuration reload failed: the running configuration stays in force'), 'nor counted as failed');
    assert.ok(messages.lastIndexOf('stopped') > shuttingDown, 'stopped after shutting down');
    await proxies[0]!.setMode('pass');
  });

  it('SIGTERM while start-up waits for a first token (the endpoint hangs): exits 0 with every line flushed', { timeout: 30_000 }, async () => {
    endpoint = await startFakeTokenEndpoint();
    endpoint.setMode('slow');
    const httpPort = await freePort();
    const config = join(dir, 'start-term.yaml');
    await writeFile(
      config,
      `server: { host: 127.0.0.1, port: ${httpPort}, shutdownGrace: 1s }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
credentials:
  - { name: mi, type: entra, source: managed-identity, requestTimeout: ${HANG} }
targets:
  - { name: entra, host: 127.0.0.1, port: ${server.port}, credential: mi }
`,
    );
    // The command after its option: the force exit at the end of \`run\` must not depend on argument order.
    const child = spawnCli(['--config', config, 'run'], { IDENTITY_ENDPOINT: endpoint.managedIdentityEndpoint, IDENTITY_HEADER: endpoint.identityHeader });
    children.push(child);
    const exited = collect(child, 30_000);
    await waitFor(() => endpoint!.requests('managed-identity') >= 1, { timeoutMs: 10_000, message: 'the first token request' });
    // Start-up is still waiting for the token: /healthz is served, the daemon is not ready.
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 503);
    child.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.signal, null, 'exited on its own, not killed by a signal');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const messages = logLines(run.stdout).map((line) => line.message);
    assert.ok(!messages.includes('redis-probe started'), 'start-up never finished');
    assert.equal(messages.at(-2), 'shutting down');
    assert.equal(messages.at(-1), 'stopped', 'the last line says the daemon stopped');
  });
});
