import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { systemClock } from '../../src/shared/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import type { Daemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { freePort } from '../support/free-port.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { waitFor } from '../support/wait.ts';

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

let server: RedisServer;
let proxy: FaultProxy;
const daemons: Daemon[] = [];
before(async () => {
  server = await startRedis();
  proxy = await startFaultProxy({ host: server.host, port: server.port });
});
after(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop()));
  await proxy.close();
  await server.stop();
});

/** A daemon started as cli.ts starts one: the config's log settings, a real winston logger, JSON lines kept here. */
async function start(options: { log?: string; targets: readonly string[] }) {
  const yaml = `server: { host: 127.0.0.1, port: ${await freePort()} }
${options.log !== undefined ? `log: ${options.log}\n` : ''}defaults: { schedule: "*/10 * * * * *", timeout: 300ms, tls: { enabled: false } }
targets:
${options.targets.map((target) => `  - ${target}`).join('\n')}
`;
  const config = parseConfig(yaml, { env: {}, readFile: () => '', baseDir: '/', hostname: () => 'test' });
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString();
      callback();
    },
  });
  const redactor = createSecretRedactor();
  const ticks = new ManualTickSource();
  const daemon = createDaemon(config, {
    clock: systemClock,
    logger: createLogger({ level: config.log.level, format: config.log.format, redactor, stream }),
    redactor,
    tickSource: ticks,
    instanceId: `log-${randomUUID().slice(0, 8)}`,
    randomValue: randomUUID,
    random: Math.random,
    version: 'test',
    stagger: false,
  });
  daemons.push(daemon);
  await daemon.start();
  const names = config.targets.map((target) => target.name);
  const lines = (): LogLine[] =>
    raw
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogLine);
  /** Fires the schedule once and waits until every target finished that cycle. */
  const cycle = async (): Promise<void> => {
    const count = async (target: string) => sampleValue(await daemon.metrics.registry.metrics(), 'redis_probe_cycles_total', { target }) ?? 0;
    const before = await Promise.all(names.map(count));
    for (const schedule of ticks.active()) ticks.tick(schedule, Date.now(), 10_000);
    await waitFor(async () => (await Promise.all(names.map(count))).every((now, index) => now > (before[index] ?? 0)), { message: 'a cycle of every target' });
  };
  return { lines, cycle };
}

const target = (name: string, port: number) => `{ name: ${name}, host: 127.0.0.1, port: ${port} }`;
const messages = (lines: readonly LogLine[]) =>
  lines.map((line) => `${line.level} ${line.message}${line.target !== undefined ? ` ${String(line.target)}` : ''}`);

describe('cycle logs at default settings', { timeout: 60_000 }, () => {
  it('write nothing for healthy cycles after the first; failures, state and reason changes each get a line', async () => {
    await proxy.setMode('pass');
    const { lines, cycle } = await start({ targets: [target('a', server.port), target('b', server.port), target('flaky', proxy.port)] });
    const started = lines().length;
    await cycle();
    assert.deepEqual(messages(lines().slice(started)).sort(), ['info target is up a', 'info target is up b', 'info target is up flaky']);
    const afterFirst = lines().length;
    for (let index = 0; index < 5; index++) await cycle();
    assert.deepEqual(messages(lines().slice(afterFirst)), [], 'healthy cycles write nothing');

    await proxy.setMode('refuse');
    const beforeDown = lines().length;
    // The dropped connection brings an early cycle: let it end before the schedule fires again.
    proxy.resetAll();
    await waitFor(() => lines().some((line) => line.message === 'target is down'), { message: 'flaky to go down' });
    await cycle();
    const down = lines().slice(beforeDown);
    assert.deepEqual(messages(down), ['warn probe cycle failed flaky', 'warn target is down flaky', 'warn probe cycle failed flaky']);
    assert.equal(down[1]?.reason, 'connection_refused');

    await proxy.setMode('stall');
    const beforeStall = lines().length;
    await cycle();
    await cycle();
    const stalled = lines().slice(beforeStall);
    assert.deepEqual(messages(stalled), ['warn probe cycle failed flaky', 'warn target failure reason changed flaky', 'warn probe cycle failed flaky']);
    assert.deepEqual([stalled[1]?.reason, stalled[1]?.previousReason], ['timeout', 'connection_refused']);

    await proxy.setMode('pass');
    const beforeUp = lines().length;
    await cycle();
    await cycle();
    assert.deepEqual(messages(lines().slice(beforeUp)), ['info target is up flaky']);
  });
});

describe('log.cycles and log.level', { timeout: 60_000 }, () => {
  it('log.cycles: all writes every successful cycle at info', async () => {
    const { lines, cycle } = await start({ log: '{ cycles: all }', targets: [target('a', server.port)] });
    for (let index = 0; index < 3; index++) await cycle();
    assert.deepEqual(messages(lines().filter((line) => line.message.startsWith('probe cycle'))), [
      'info probe cycle succeeded a',
      'info probe cycle succeeded a',
      'info probe cycle succeeded a',
    ]);
  });

  it('log.level: debug writes successful cycles at debug', async () => {
    const { lines, cycle } = await start({ log: '{ level: debug }', targets: [target('a', server.port)] });
    for (let index = 0; index < 3; index++) await cycle();
    assert.deepEqual(messages(lines().filter((line) => line.message.startsWith('probe cycle'))), [
      'debug probe cycle succeeded a',
      'debug probe cycle succeeded a',
      'debug probe cycle succeeded a',
    ]);
  });

  it('rejects another value, naming the field and the choices', () => {
    const parse = () =>
      parseConfig('log: { cycles: some }\ntargets: [{ name: a, host: h }]\n', { env: {}, readFile: () => '', baseDir: '/', hostname: () => 'test' });
    assert.throws(
      parse,
      (error: unknown) => error instanceof ConfigError && error.issues.some((issue) => issue.startsWith('log.cycles: must be all or failures')),
    );
  });
});
