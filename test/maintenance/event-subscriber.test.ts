import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEventSubscriber } from '../../src/maintenance/event-subscriber.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { freePort } from '../support/free-port.ts';
import { targetConfig } from '../support/target-config.ts';
import { waitFor } from '../support/wait.ts';

/** The retry delays of a subscriber whose server refuses every connection, after `attempts` attempts. */
async function retryDelays(random: () => number, attempts: number): Promise<number[]> {
  const clock = new FakeClock();
  // Nothing listens on the port: each attempt fails at once with ECONNREFUSED.
  const target = targetConfig({ name: 'refused', port: await freePort() });
  const delays: number[] = [];
  const subscriber = createEventSubscriber(
    target,
    { clock, connectionName: 'test', initialDelayMs: 1000, maxDelayMs: 10_000, random },
    {
      onMessage: () => undefined,
      onSubscribed: () => undefined,
      onDisconnected: () => undefined,
      onAttemptFailed: (_reason, _error, retryInMs) => delays.push(retryInMs),
    },
  );
  try {
    subscriber.start();
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      await waitFor(() => delays.length === attempt, { message: `attempt ${attempt} to fail` });
      if (attempt < attempts) clock.advance(delays.at(-1) ?? 0);
    }
  } finally {
    subscriber.close();
  }
  return delays;
}

describe('maintenance subscriber retries', () => {
  it('back off exponentially up to the cap, with the jitter the shared backoff draws from the injected random', async () => {
    // random 0: each delay is 80 % of the exponential one, never below the first delay.
    assert.deepEqual(await retryDelays(() => 0, 6), [1000, 1600, 3200, 6400, 8000, 8000]);
    // The middle of the range: the exponential delays exactly.
    assert.deepEqual(await retryDelays(() => 0.5, 6), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});
