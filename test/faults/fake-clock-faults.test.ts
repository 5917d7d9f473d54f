import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { waitFor } from '../support/wait.ts';
import {
  activeResources,
  assertResourcesReturned,
  cycleEntries,
  EVERY_SECOND,
  failuresOf,
  faultConfig,
  faultTarget,
  startDaemon,
  successOf,
  watchProcessFaults,
} from './support.ts';
import type { CycleEntry, DaemonHarness } from './support.ts';

// The in-process daemon on a fake clock and hand-fired ticks: step timeouts fire only when the test moves time,
// so every timer the daemon arms can be accounted for. Redis and the proxies are real.
const TIMEOUT_MS = 400;
const LONG_TIMEOUT_MS = 5_000;
const GRACE_MS = 2_000;

const processFaults = watchProcessFaults();
const clock = new FakeClock();
const ticks = new ManualTickSource();
let server: RedisServer;
const proxies = new Map<string, FaultProxy>();
let harness: DaemonHarness;
let baseline: Map<string, number>;

before(async () => {
  server = await startRedis();
  for (const name of ['stall', 'reset', 'long']) proxies.set(name, await startFaultProxy({ host: server.host, port: server.port }));
  baseline = activeResources();
  harness = await startDaemon(
    faultConfig(
      [
        faultTarget('fc-healthy', server.port, { timeoutMs: TIMEOUT_MS }),
        faultTarget('fc-stall', proxies.get('stall')!.port, { timeoutMs: TIMEOUT_MS }),
        faultTarget('fc-reset', proxies.get('reset')!.port, { timeoutMs: TIMEOUT_MS }),
        faultTarget('fc-long', proxies.get('long')!.port, { timeoutMs: LONG_TIMEOUT_MS }),
      ],
      [],
      GRACE_MS,
    ),
    { clock, tickSource: ticks, stagger: false },
  );
});

after(async () => {
  // Stopping may wait on the fake grace timer: keep time moving until it is done.
  const stopping = harness?.stop();
  while (stopping !== undefined && !(await Promise.race([stopping.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 20))]))) {
    clock.advance(500);
  }
  await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
  await server?.stop();
  processFaults.dispose();
});

const proxy = (name: string): FaultProxy => proxies.get(name)!;

/**
 * Fires one tick and waits (in real time) until `targets` have each logged a cycle since, and no cycle of any
 * target is still running: a straggler would skip the next tick and meet the next fault mid-cycle.
 */
async function tick(targets: readonly string[]): Promise<Map<string, CycleEntry>> {
  const fromMs = performance.now();
  ticks.tick(EVERY_SECOND, clock.now(), 1_000);
  const cycles = await settle(targets, fromMs);
  await waitFor(() => harness.daemon.scheduler.inFlight() === 0, { timeoutMs: 5_000, message: 'every cycle of the tick to end' });
  return cycles;
}

async function settle(targets: readonly string[], fromMs: number): Promise<Map<string, CycleEntry>> {
  return waitFor(
    () => {
      const found = new Map<string, CycleEntry>();
      for (const target of targets) {
        const cycle = cycleEntries(harness.logger.entries, target, fromMs)[0];
        if (cycle) found.set(target, cycle);
      }
      return found.size === targets.length ? found : undefined;
    },
    { timeoutMs: 5_000, message: `cycles of ${targets.join(', ')}` },
  );
}

/** Waits until every target's cycle is in flight with its step timeout armed on the fake clock. */
async function inFlight(count: number): Promise<void> {
  await waitFor(() => harness.daemon.scheduler.inFlight() === count && clock.pendingTimers().length === count, {
    timeoutMs: 5_000,
    message: `${count} cycle(s) hanging with a timeout armed`,
  });
}

describe('faults on a fake clock: every timer the daemon arms is cleared', { timeout: 60_000 }, () => {
  it('a healthy tick leaves no timer pending', async () => {
    const cycles = await tick(['fc-healthy', 'fc-stall', 'fc-reset', 'fc-long']);
    for (const cycle of cycles.values()) assert.equal(cycle.ok, true, cycle.error);
    assert.deepEqual(clock.pendingTimers(), []);
  });

  it('stall: the cycle hangs until its timeout fires on the clock, then reports ping/timeout; pass heals', async () => {
    await proxy('stall').setMode('stall');
    const fromMs = performance.now();
    ticks.tick(EVERY_SECOND, clock.now(), 1_000);
    const others = await settle(['fc-healthy', 'fc-reset', 'fc-long'], fromMs);
    assert.ok(
      [...others.values()].every((cycle) => cycle.ok),
      'the neighbours did not wait for the stalled target',
    );
    await inFlight(1);
    assert.equal(clock.pendingTimers()[0]?.dueInMs, TIMEOUT_MS, 'exactly the stalled step timeout is armed');
    await clock.advanceAsync(TIMEOUT_MS - 1);
    assert.equal(cycleEntries(harness.logger.entries, 'fc-stall', fromMs).length, 0, 'no timeout before its time');
    await clock.advanceAsync(1);
    const [failed] = [(await settle(['fc-stall'], fromMs)).get('fc-stall')!];
    assert.deepEqual([failed.ok, failed.step, failed.reason], [false, 'ping', 'timeout']);
    const text = await harness.scrape();
    assert.equal(successOf(text, 'fc-stall'), 0);
    assert.equal(failuresOf(text, 'fc-stall', 'ping', 'timeout'), 1);
    assert.deepEqual(clock.pendingTimers(), []);

    await proxy('stall').setMode('pass');
    const healed = (await tick(['fc-stall'])).get('fc-stall')!;
    assert.equal(healed.ok, true, healed.error);
    assert.ok('connect' in healed.steps, 'a fresh connection replaced the timed-out one');
    assert.deepEqual(clock.pendingTimers(), []);
  });

  it('reset-mid-reply and refuse: connection_reset, then connection_refused at once via the lost connection', async () => {
    await proxy('reset').setMode('reset-mid-reply');
    const reset = (await tick(['fc-reset'])).get('fc-reset')!;
    assert.deepEqual([reset.step, reset.reason], ['ping', 'connection_reset']);
    assert.deepEqual(clock.pendingTimers(), []);

    await proxy('reset').setMode('pass');
    assert.equal((await tick(['fc-reset'])).get('fc-reset')!.ok, true);
    const fromMs = performance.now();
    await proxy('reset').setMode('refuse');
    proxy('reset').resetAll();
    // No tick: the dropped idle connection triggers a cycle by itself.
    const refused = (await settle(['fc-reset'], fromMs)).get('fc-reset')!;
    assert.deepEqual([refused.trigger, refused.step, refused.reason], ['connection_lost', 'connect', 'connection_refused']);
    assert.deepEqual(clock.pendingTimers(), []);

    await proxy('reset').setMode('pass');
    assert.equal((await tick(['fc-reset'])).get('fc-reset')!.ok, true);
    assert.deepEqual(clock.pendingTimers(), []);
  });

  it('stop with a cycle hanging past the grace period: abandoned, every timer cleared, nothing left open', async () => {
    await proxy('long').setMode('stall');
    const fromMs = performance.now();
    ticks.tick(EVERY_SECOND, clock.now(), 1_000);
    await settle(['fc-healthy', 'fc-stall', 'fc-reset'], fromMs);
    await inFlight(1);
    let stopped = false;
    const stopping = harness.stop().then(() => (stopped = true));
    await waitFor(() => clock.pendingTimers().some((timer) => timer.dueInMs === GRACE_MS), { timeoutMs: 2_000, message: 'the grace timer' });
    await clock.advanceAsync(GRACE_MS - 1);
    assert.equal(stopped, false, 'the cycle in flight gets its grace period');
    await clock.advanceAsync(1);
    // Past the grace period nothing waits on the fake clock: stop completes in real time.
    await stopping;
    assert.deepEqual(clock.pendingTimers(), [], 'no timer left on the clock');
    assert.equal(ticks.active().length, 0, 'no schedule left running');
    const abandoned = (await settle(['fc-long'], fromMs)).get('fc-long')!;
    assert.deepEqual([abandoned.ok, abandoned.step], [false, 'ping'], 'the abandoned cycle ended when its connection closed');
    await waitFor(() => [...proxies.values()].every((each) => each.connectionCount() === 0), { timeoutMs: 3_000, message: 'probe connections closed' });
    await assertResourcesReturned(baseline);
    processFaults.assertNone();
  });
});
