import assert from 'node:assert/strict';
import { test } from 'node:test';
import { delay, waitFor, WaitTimeoutError } from './wait.ts';

test('waitFor resolves with the first truthy value', { timeout: 5000 }, async () => {
  let calls = 0;
  const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
  assert.deepEqual(value, { calls: 3 });
});

test('waitFor treats throws and rejections as "not yet"', { timeout: 5000 }, async () => {
  let calls = 0;
  const value = await waitFor(
    async () => {
      calls += 1;
      if (calls < 3) throw new Error('not ready');
      return 'ready';
    },
    { intervalMs: 1 },
  );
  assert.equal(value, 'ready');
});

test('waitFor times out with the message and the last error', { timeout: 5000 }, async () => {
  const started = performance.now();
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 100, intervalMs: 10, message: 'redis to answer' },
    ),
    (err: unknown) => {
      assert.ok(err instanceof WaitTimeoutError);
      assert.equal(err.name, 'WaitTimeoutError');
      assert.match(err.message, /timed out after 100 ms waiting for redis to answer \(last error: connection refused\)/);
      return true;
    },
  );
  assert.ok(performance.now() - started >= 95);
});

test('waitFor reports the last falsy value on timeout', { timeout: 5000 }, async () => {
  await assert.rejects(
    waitFor(() => 0, { timeoutMs: 30, intervalMs: 5 }),
    /last value: 0/,
  );
});

test('waitFor stops when its signal aborts', { timeout: 5000 }, async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('gave up')), 30);
  const started = performance.now();
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 5000, intervalMs: 1000, signal: controller.signal }),
    /gave up/,
  );
  assert.ok(performance.now() - started < 1000, 'abort interrupts the interval sleep');
});

test('delay waits at least the given time', { timeout: 5000 }, async () => {
  const started = performance.now();
  await delay(50);
  assert.ok(performance.now() - started >= 45);
});
