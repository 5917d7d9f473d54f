// Tests of test/support/fake-clock.ts (kept here because this task owns test/auth/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './fake-clock.ts';

describe('FakeClock', { timeout: 5000 }, () => {
  it('starts at a fixed time and moves only when told', () => {
    const clock = new FakeClock(1_000_000);
    assert.equal(clock.now(), 1_000_000);
    assert.equal(clock.monotonicMs(), 0);
    clock.advance(250);
    assert.equal(clock.now(), 1_000_250);
    assert.equal(clock.monotonicMs(), 250);
    assert.throws(() => clock.advance(-1), RangeError);
  });

  it('fires due timers in order, at their due time, including ones scheduled while advancing', () => {
    const clock = new FakeClock(0);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => {
      log.push(`a@${clock.now()}`);
      clock.setTimeout(() => log.push(`c@${clock.now()}`), 50);
      clock.setTimeout(() => log.push(`late@${clock.now()}`), 1000);
    }, 100);
    clock.setTimeout(() => log.push(`tie@${clock.now()}`), 200);
    clock.setTimeout(() => log.push(`zero@${clock.now()}`), -5);
    clock.advance(300);
    assert.deepEqual(log, ['zero@0', 'a@100', 'c@150', 'b@200', 'tie@200']);
    assert.equal(clock.now(), 300);
    assert.deepEqual(clock.pendingTimers(), [{ id: 6, dueAtMs: 1100, dueInMs: 800 }]);
    assert.equal(clock.nextTimerInMs(), 800);
  });

  it('clearTimeout removes a timer; unref is accepted', () => {
    const clock = new FakeClock(0);
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 10);
    handle.unref?.();
    clock.clearTimeout(handle);
    clock.clearTimeout(handle);
    clock.advance(100);
    assert.equal(fired, false);
    assert.deepEqual(clock.pendingTimers(), []);
    assert.equal(clock.nextTimerInMs(), undefined);
  });

  it('advanceAsync lets promise chains started by a timer schedule the next timer', async () => {
    const clock = new FakeClock(0);
    const ticks: number[] = [];
    const loop = (): void => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          ticks.push(clock.now());
          if (ticks.length < 3) clock.setTimeout(loop, 100);
        });
    };
    clock.setTimeout(loop, 100);
    await clock.advanceAsync(1000);
    assert.deepEqual(ticks, [100, 200, 300]);

    // The synchronous advance() cannot see the async continuation in time.
    const syncClock = new FakeClock(0);
    let asyncTicks = 0;
    syncClock.setTimeout(() => {
      void Promise.resolve().then(() => {
        asyncTicks += 1;
        syncClock.setTimeout(() => (asyncTicks += 1), 100);
      });
    }, 100);
    syncClock.advance(1000);
    assert.equal(asyncTicks, 0);
  });

  it('runNextAsync jumps to the next timer', async () => {
    const clock = new FakeClock(0);
    clock.setTimeout(() => undefined, 5000);
    assert.equal(await clock.runNextAsync(), true);
    assert.equal(clock.now(), 5000);
    assert.equal(await clock.runNextAsync(), false);
  });

  it('a wall-clock step moves now() but neither monotonic time nor timers', () => {
    const clock = new FakeClock(0);
    let firedAtMono: number | undefined;
    clock.setTimeout(() => (firedAtMono = clock.monotonicMs()), 100);
    clock.setWallClock(50_000);
    assert.equal(clock.now(), 50_000);
    assert.equal(clock.monotonicMs(), 0);
    clock.advance(99);
    assert.equal(firedAtMono, undefined);
    clock.advance(1);
    assert.equal(firedAtMono, 100);
    assert.equal(clock.now(), 50_100);
  });
});
