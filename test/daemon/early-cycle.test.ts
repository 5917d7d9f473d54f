import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../src/shared/clock.ts';
import type { DaemonConfig, TargetConfig } from '../../src/config/types.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import type { Daemon } from '../../src/daemon/daemon.ts';
import { createEarlyCycleLimiter } from '../../src/daemon/early-cycle.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { FakeClock, flushPromises } from '../support/fake-clock.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { targetConfig } from '../support/target-config.ts';
import { delay, waitFor } from '../support/wait.ts';
import { capturingLogger } from '../support/capturing-logger.ts';

describe('early cycle limiter', () => {
  function setup(minIntervalMs = 1_000) {
    const clock = new FakeClock();
    const runs: { name: string; atMs: number }[] = [];
    const finishers: (() => void)[] = [];
    const limiter = createEarlyCycleLimiter({
      clock,
      minIntervalMs,
      run: (name) => {
        runs.push({ name, atMs: clock.monotonicMs() });
        return new Promise<void>((resolve) => finishers.push(resolve));
      },
    });
    const finishAll = async () => {
      for (const finish of finishers.splice(0)) finish();
      await flushPromises();
    };
    return { clock, runs, limiter, finishAll };
  }

  it('runs the first extra cycle at once', () => {
    const { runs, limiter } = setup();
    limiter.request('a');
    assert.deepEqual(runs, [{ name: 'a', atMs: 0 }]);
  });

  it('keeps at most one extra cycle in flight per target', async () => {
    const { runs, limiter, finishAll, clock } = setup();
    limiter.request('a');
    clock.advance(5_000);
    limiter.request('a');
    limiter.request('a');
    assert.equal(runs.length, 1, 'still running: further requests are absorbed');
    limiter.request('b');
    assert.deepEqual(
      runs.map((run) => run.name),
      ['a', 'b'],
      'targets are independent',
    );
    await finishAll();
    limiter.request('a');
    assert.equal(runs.length, 3);
  });

  it('starts at most one per interval: requests in between collapse into one delayed run', async () => {
    const { runs, limiter, finishAll, clock } = setup(1_000);
    limiter.request('a');
    await finishAll();
    clock.advance(100);
    for (let n = 0; n < 10; n++) {
      limiter.request('a');
      clock.advance(50);
    }
    assert.equal(runs.length, 1);
    clock.advance(1_000 - 600 - 1);
    assert.equal(runs.length, 1);
    clock.advance(1);
    assert.deepEqual(
      runs.map((run) => run.atMs),
      [0, 1_000],
    );
    await finishAll();
    // A flapping target: a loss right after every run still yields one run per interval.
    for (let second = 2; second <= 5; second++) {
      limiter.request('a');
      clock.advance(1_000);
      await finishAll();
    }
    assert.deepEqual(
      runs.map((run) => run.atMs),
      [0, 1_000, 2_000, 3_000, 4_000, 5_000],
    );
  });

  it('forget() and close() cancel a delayed run', async () => {
    const { runs, limiter, finishAll, clock } = setup();
    limiter.request('a');
    limiter.request('b');
    await finishAll();
    limiter.request('a');
    limiter.request('b');
    limiter.forget('a');
    limiter.close();
    clock.advance(10_000);
    assert.equal(runs.length, 2);
    assert.equal(clock.pendingTimers().length, 0);
    limiter.request('a');
    assert.equal(runs.length, 2, 'closed');
  });

  it('a failing run does not wedge the target', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const limiter = createEarlyCycleLimiter({ clock, minIntervalMs: 10, run: () => (calls++, Promise.reject(new Error('boom'))) });
    limiter.request('a');
    await flushPromises();
    clock.advance(10);
    limiter.request('a');
    assert.equal(calls, 2);
  });
});

const EVERY_30S = '*/30 * * * * *';

function daemonConfig(targets: readonly TargetConfig[]): DaemonConfig {
  return {
    server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 2_000 },
    log: { level: 'info', format: 'json', cycles: 'failures' },
    metrics: { detail: 'standard', stepHistograms: false, preinitialiseFailures: true },
    credentials: [],
    targets,
  };
}

describe('fast outage detection in the daemon', { timeout: 40_000 }, () => {
  const servers: RedisServer[] = [];
  const proxies: FaultProxy[] = [];
  const daemons: Daemon[] = [];
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(servers.map((server) => server.stop()));
  });

  async function start(targets: readonly TargetConfig[]) {
    const ticks = new ManualTickSource();
    const logger = capturingLogger();
    const daemon = createDaemon(daemonConfig(targets), {
      clock: systemClock,
      logger,
      redactor: createSecretRedactor(),
      tickSource: ticks,
      instanceId: `test-${randomUUID().slice(0, 8)}`,
      randomValue: randomUUID,
      random: Math.random,
      version: 'test',
      stagger: false,
    });
    daemons.push(daemon);
    await daemon.start();
    const value = async (name: string, target: string) => sampleValue(await daemon.metrics.registry.metrics(), name, { target });
    // The first (and, in these tests, only) scheduled tick: the next one would be 30 s away.
    ticks.tick(EVERY_30S, Date.now(), 30_000);
    return { daemon, logger, value };
  }

  it('a killed server reads success 0 within a second or so, counted as a cycle; the other target is untouched', async () => {
    const doomed = await startRedis();
    const healthy = await startRedis();
    servers.push(doomed, healthy);
    const { logger, value } = await start([
      targetConfig({ name: 'doomed', port: doomed.port, schedule: EVERY_30S }),
      targetConfig({ name: 'healthy', port: healthy.port, schedule: EVERY_30S }),
    ]);
    await waitFor(async () => (await value('redis_probe_success', 'doomed')) === 1 && (await value('redis_probe_success', 'healthy')) === 1, {
      message: 'the first scheduled cycle of both targets',
    });

    const killedAt = performance.now();
    await doomed.kill();
    await waitFor(async () => (await value('redis_probe_success', 'doomed')) === 0, { timeoutMs: 3_000, intervalMs: 10, message: 'success 0 after SIGKILL' });
    const detectedInMs = performance.now() - killedAt;
    assert.ok(detectedInMs < 3_000, `detected in ${detectedInMs.toFixed(0)} ms`);

    assert.equal(await value('redis_probe_cycles_total', 'doomed'), 2, 'the extra cycle is counted like any other');
    const failed = logger.entries.find((entry) => entry.message === 'probe cycle failed' && entry.fields['target'] === 'doomed');
    assert.equal(failed?.fields['trigger'], 'connection_lost');
    assert.equal(failed?.fields['reason'], 'connection_refused');
    const first = logger.entries.find((entry) => entry.message === 'probe cycle succeeded' && entry.fields['target'] === 'doomed');
    assert.equal(first?.fields['trigger'], 'schedule');

    assert.equal(await value('redis_probe_success', 'healthy'), 1);
    assert.equal(await value('redis_probe_cycles_total', 'healthy'), 1, 'the other target ran no extra cycle');
    // With no connection left to lose, nothing more runs until the next tick.
    await delay(1_500);
    assert.equal(await value('redis_probe_cycles_total', 'doomed'), 2);
  });

  it('a flapping connection gets at most about one extra cycle per second, never a tight loop', async () => {
    const upstream = await startRedis();
    servers.push(upstream);
    const proxy = await startFaultProxy({ host: upstream.host, port: upstream.port });
    proxies.push(proxy);
    const { value } = await start([targetConfig({ name: 'flapping', port: proxy.port, schedule: EVERY_30S })]);
    await waitFor(async () => (await value('redis_probe_success', 'flapping')) === 1);

    // Reset every connection every 20 ms for 3 s: each reconnect is lost again at once.
    const until = performance.now() + 3_000;
    while (performance.now() < until) {
      proxy.resetAll();
      await delay(20);
    }
    const cycles = (await value('redis_probe_cycles_total', 'flapping')) ?? 0;
    // 1 scheduled + at most one extra per second (3 s, plus the one allowed at once).
    assert.ok(cycles >= 2, `the loss was acted on (${cycles} cycles)`);
    assert.ok(cycles <= 5, `${cycles} cycles in 3 s: the limiter let a loop through`);
  });
});
