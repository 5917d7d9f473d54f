import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduler, cronTickSource, staggerFraction } from '../../src/daemon/scheduler.ts';
import type { ScheduledJob } from '../../src/daemon/scheduler.ts';
import type { CycleTrigger } from '../../src/shared/probe-result.ts';
import { FakeClock, flushPromises } from '../support/fake-clock.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { watchProcessFaults } from '../faults/support.ts';

const EVERY_10S = '*/10 * * * * *';

/** A job that records when it started and finishes only when the test says so. */
function controllableJob(name: string, clock: FakeClock, schedule = EVERY_10S) {
  const starts: { atMs: number; trigger: CycleTrigger }[] = [];
  let release: (() => void) | undefined;
  const job: ScheduledJob = {
    name,
    schedule,
    run: (trigger) => {
      starts.push({ atMs: clock.now(), trigger });
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  };
  return { job, starts, finish: () => release?.() };
}

function setup(options: { stagger?: boolean } = {}) {
  const clock = new FakeClock(1_000_000);
  const ticks = new ManualTickSource();
  ticks.nextRunAtMs = clock.now() + 10_000;
  const events = { skipped: [] as string[], lateness: [] as number[] };
  const scheduler = createScheduler({
    tickSource: ticks,
    clock,
    ...options,
    observer: { onRunSkipped: (job) => events.skipped.push(job), onRunStarted: (_job, ms) => events.lateness.push(ms) },
  });
  return { clock, ticks, scheduler, events };
}

describe('scheduler', () => {
  it('spreads jobs of one schedule over the interval at stable offsets, one cron task per schedule', async () => {
    const { clock, ticks, scheduler, events } = setup();
    const jobs = ['orders', 'sessions', 'carts', 'search'].map((name) => controllableJob(name, clock));
    for (const { job } of jobs) scheduler.add(job);
    scheduler.start();
    assert.deepEqual(ticks.active(), [EVERY_10S]);

    const plannedAt = clock.now();
    ticks.tick(EVERY_10S, plannedAt, 10_000);
    await clock.advanceAsync(10_000);
    for (const { job, starts } of jobs) {
      assert.equal(starts.length, 1, job.name);
      assert.equal(starts[0]?.atMs, plannedAt + Math.floor(staggerFraction(job.name) * 10_000), job.name);
    }
    assert.equal(new Set(jobs.map(({ starts }) => starts[0]?.atMs)).size, jobs.length, 'no two jobs start together');
    assert.deepEqual(events.lateness, [0, 0, 0, 0]);
  });

  it('starts every job at the tick when stagger is off', async () => {
    const { clock, ticks, scheduler } = setup({ stagger: false });
    const jobs = ['a', 'b'].map((name) => controllableJob(name, clock));
    for (const { job } of jobs) scheduler.add(job);
    scheduler.start();
    ticks.tick(EVERY_10S, clock.now(), 10_000);
    await flushPromises();
    assert.deepEqual(
      jobs.map(({ starts }) => starts.length),
      [1, 1],
    );
  });

  it('never overlaps a job with itself: a due run is skipped and counted', async () => {
    const { clock, ticks, scheduler, events } = setup({ stagger: false });
    const slow = controllableJob('slow', clock);
    scheduler.add(slow.job);
    scheduler.start();
    ticks.tick(EVERY_10S, clock.now(), 10_000);
    await clock.advanceAsync(10_000);
    ticks.tick(EVERY_10S, clock.now(), 10_000);
    await flushPromises();
    assert.equal(slow.starts.length, 1);
    assert.deepEqual(events.skipped, ['slow']);
    slow.finish();
    await clock.advanceAsync(10_000);
    ticks.tick(EVERY_10S, clock.now(), 10_000);
    await flushPromises();
    assert.equal(slow.starts.length, 2, 'runs again once the previous run ended');
  });

  it('reports lateness against the planned time', async () => {
    const { clock, ticks, scheduler, events } = setup({ stagger: false });
    scheduler.add(controllableJob('late', clock).job);
    scheduler.start();
    const planned = clock.now();
    await clock.advanceAsync(40);
    ticks.tick(EVERY_10S, planned, 10_000);
    await flushPromises();
    assert.deepEqual(events.lateness, [40]);
  });

  it('runs a triggered cycle at once unless one is in flight', async () => {
    const { clock, scheduler } = setup();
    const job = controllableJob('lost', clock);
    scheduler.add(job.job);
    scheduler.start();
    const run = scheduler.trigger('lost', 'connection_lost');
    void scheduler.trigger('lost', 'connection_lost');
    await flushPromises();
    assert.deepEqual(
      job.starts.map((start) => start.trigger),
      ['connection_lost'],
    );
    job.finish();
    await run;
  });

  it('fails liveness when ticks stop arriving, and passes while they come', async () => {
    const { clock, ticks, scheduler } = setup();
    scheduler.add(controllableJob('a', clock).job);
    scheduler.start();
    assert.equal(scheduler.isLive(), true);
    for (let index = 0; index < 3; index++) {
      await clock.advanceAsync(10_000);
      ticks.tick(EVERY_10S, clock.now(), 10_000);
      assert.equal(scheduler.isLive(), true);
    }
    await clock.advanceAsync(10_000 + 2 * 10_000 + 4_000);
    assert.equal(scheduler.isLive(), true, 'within two intervals plus slack');
    await clock.advanceAsync(2_000);
    assert.equal(scheduler.isLive(), false, 'a wedged scheduler fails liveness');
  });

  it('stops: waits for in-flight runs within the grace period, and reports when they outlast it', async () => {
    const { clock, ticks, scheduler } = setup({ stagger: false });
    const quick = controllableJob('quick', clock);
    const stuck = controllableJob('stuck', clock, '*/30 * * * * *');
    scheduler.add(quick.job);
    scheduler.add(stuck.job);
    scheduler.start();
    ticks.tick(EVERY_10S, clock.now(), 10_000);
    ticks.tick('*/30 * * * * *', clock.now(), 30_000);
    await flushPromises();
    const stopped = scheduler.stop(5_000);
    quick.finish();
    await clock.advanceAsync(5_000);
    assert.equal(await stopped, false);
    assert.deepEqual(ticks.active(), [], 'no schedule keeps running');
    assert.deepEqual(clock.pendingTimers(), [], 'no stray timers');
    assert.equal(scheduler.isLive(), false);
  });

  it('contains a crashed run whose error observer throws: no unhandled rejection, the job runs again', async () => {
    const faults = watchProcessFaults();
    try {
      const clock = new FakeClock(1_000_000);
      const ticks = new ManualTickSource();
      let runs = 0;
      const scheduler = createScheduler({
        tickSource: ticks,
        clock,
        stagger: false,
        observer: {
          onRunError: () => {
            throw new Error('observer failed too');
          },
        },
      });
      scheduler.add({
        name: 'crashes',
        schedule: EVERY_10S,
        run: () => {
          runs++;
          return Promise.reject(new Error('cycle crashed'));
        },
      });
      scheduler.start();
      ticks.tick(EVERY_10S, clock.now(), 10_000);
      await flushPromises();
      await flushPromises();
      faults.assertNone();
      assert.equal(scheduler.inFlight(), 0);
      await scheduler.trigger('crashes', 'connection_lost');
      assert.equal(runs, 2);
      assert.equal(await scheduler.stop(1_000), true);
    } finally {
      faults.dispose();
    }
  });

  it('removes a job: its schedule stops when it was the last one', async () => {
    const { clock, ticks, scheduler } = setup();
    const job = controllableJob('gone', clock);
    scheduler.add(job.job);
    scheduler.start();
    await scheduler.remove('gone');
    assert.deepEqual(ticks.active(), []);
    assert.equal(scheduler.inFlight(), 0);
  });
});

describe('cronTickSource (node-cron)', () => {
  it('ticks on a seconds schedule with the planned time and the interval', { timeout: 5_000 }, async () => {
    const source = cronTickSource();
    const seen: [number, number][] = [];
    const handle = source.every('* * * * * *', (plannedAtMs, intervalMs) => seen.push([plannedAtMs, intervalMs]));
    assert.ok((handle.nextRunAtMs() ?? 0) > Date.now() - 1000);
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    handle.stop();
    assert.ok(seen.length >= 2, `ticks: ${seen.length}`);
    for (const [plannedAtMs, intervalMs] of seen) {
      assert.equal(plannedAtMs % 1000, 0, 'planned on the second');
      assert.equal(intervalMs, 1000);
    }
  });
});
