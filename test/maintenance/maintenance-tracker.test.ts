import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMaintenanceTracker } from '../../src/maintenance/maintenance-tracker.ts';
import { FakeClock } from '../support/fake-clock.ts';

function setup(safetyTimeoutMs = 30 * 60_000) {
  const clock = new FakeClock();
  const changes: [boolean, string][] = [];
  const tracker = createMaintenanceTracker({ clock, safetyTimeoutMs, onChange: (inProgress, why) => changes.push([inProgress, why]) });
  return { clock, changes, tracker };
}

describe('maintenance tracker', () => {
  it('is in progress from Starting until Ended; Scheduled and ScaleComplete change nothing', () => {
    const { tracker, changes } = setup();
    assert.equal(tracker.record('scheduled'), false);
    assert.equal(tracker.inProgress, false);
    assert.equal(tracker.record('starting'), true);
    assert.equal(tracker.inProgress, true);
    assert.equal(tracker.record('failover_complete'), false, 'already in progress');
    assert.equal(tracker.record('scale_complete'), false);
    assert.equal(tracker.record('unknown'), false);
    assert.equal(tracker.record('ended'), true);
    assert.equal(tracker.inProgress, false);
    assert.equal(tracker.record('ended'), false, 'a second Ended is not a change');
    assert.deepEqual(changes, [
      [true, 'event'],
      [false, 'event'],
    ]);
    tracker.close();
  });

  it('Start and FailoverComplete alone also begin maintenance', () => {
    for (const type of ['start', 'failover_complete'] as const) {
      const { tracker } = setup();
      tracker.record(type);
      assert.equal(tracker.inProgress, true, type);
      tracker.close();
    }
  });

  it('falls back to not in progress when no Ended arrives within the safety timeout', () => {
    const { tracker, clock, changes } = setup(30 * 60_000);
    tracker.record('starting');
    clock.advance(30 * 60_000 - 1);
    assert.equal(tracker.inProgress, true);
    clock.advance(1);
    assert.equal(tracker.inProgress, false);
    assert.deepEqual(changes, [
      [true, 'event'],
      [false, 'timeout'],
    ]);
    assert.equal(clock.pendingTimers().length, 0);
  });

  it('every begin notification re-arms the timeout; Ended disarms it', () => {
    const { tracker, clock } = setup(10_000);
    tracker.record('starting');
    clock.advance(8_000);
    tracker.record('failover_complete');
    clock.advance(8_000);
    assert.equal(tracker.inProgress, true, 'the failover restarted the 10 s window');
    tracker.record('ended');
    assert.equal(clock.pendingTimers().length, 0);
    clock.advance(60_000);
    assert.equal(tracker.inProgress, false);
  });

  it('close() leaves no timer behind', () => {
    const { tracker, clock } = setup();
    tracker.record('start');
    tracker.close();
    assert.equal(clock.pendingTimers().length, 0);
  });
});
