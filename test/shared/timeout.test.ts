import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TimerHandle } from '../../src/shared/clock.ts';
import { raceTimeout, settlesWithin, StepTimeoutError, withTimeout } from '../../src/shared/timeout.ts';
import { FakeClock, flushPromises } from '../support/fake-clock.ts';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('the timeout race', () => {
  it('work that ends first wins, and its timer is cleared', async () => {
    const clock = new FakeClock();
    const work = deferred<string>();
    const race = raceTimeout(work.promise, 1000, clock, { onTimeout: () => 'late' });
    assert.equal(clock.pendingTimers().length, 1);
    work.resolve('done');
    assert.equal(await race, 'done');
    assert.equal(clock.pendingTimers().length, 0);
  });

  it('the timer that fires first settles with onTimeout, and a later rejection of the work is swallowed', async () => {
    const clock = new FakeClock();
    const work = deferred<string>();
    const race = withTimeout(work.promise, 500, clock, 'ping');
    clock.advance(500);
    await assert.rejects(race, (error: unknown) => error instanceof StepTimeoutError && error.message === 'ping timed out after 500ms');
    // Were this unhandled, node --test would report it against the test.
    work.reject(new Error('too late'));
    await flushPromises();
  });

  it('settlesWithin: true when the work settles either way, false when the time runs out', async () => {
    const clock = new FakeClock();
    const failing = deferred<undefined>();
    const settled = settlesWithin(failing.promise, 1000, clock);
    failing.reject(new Error('failed, but settled'));
    assert.equal(await settled, true);
    const hanging = settlesWithin(new Promise(() => undefined), 1000, clock);
    clock.advance(1000);
    assert.equal(await hanging, false);
  });

  it('an outer abort ends the race at once with onAbort, and an already aborted signal before it starts', async () => {
    const clock = new FakeClock();
    const outer = new AbortController();
    const race = raceTimeout(new Promise<string>(() => undefined), 1000, clock, {
      onTimeout: () => 'late',
      signal: outer.signal,
      onAbort: () => new Error('given up'),
    });
    outer.abort();
    await assert.rejects(race, /given up/);
    assert.equal(clock.pendingTimers().length, 0, 'the timer is cleared');
    await assert.rejects(
      raceTimeout(Promise.resolve('ready'), 1000, clock, { onTimeout: () => 'late', signal: outer.signal, onAbort: () => new Error('already') }),
      /already/,
    );
    assert.equal(clock.pendingTimers().length, 0, 'no timer was armed');
  });

  it('unref only when asked', async () => {
    const unrefs: boolean[] = [];
    class CountingClock extends FakeClock {
      override setTimeout(callback: () => void, delayMs: number): TimerHandle {
        const index = unrefs.push(false) - 1;
        return { ...super.setTimeout(callback, delayMs), unref: () => void (unrefs[index] = true) };
      }
    }
    const clock = new CountingClock();
    await raceTimeout(Promise.resolve(1), 10, clock, { onTimeout: () => 0 });
    await raceTimeout(Promise.resolve(1), 10, clock, { onTimeout: () => 0, unref: true });
    assert.deepEqual(unrefs, [false, true]);
  });
});
