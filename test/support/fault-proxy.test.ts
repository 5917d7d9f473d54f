import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { GARBAGE_REPLY, startFaultProxy } from './fault-proxy.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { captureRedisError, startRedis } from './redis-server.ts';
import type { RedisServer } from './redis-server.ts';
import { delay, waitFor } from './wait.ts';

const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');
let upstream: RedisServer;

before(
  async () => {
    upstream = await startRedis();
  },
  { timeout: 15_000 },
);

after(() => upstream.stop(), { timeout: 10_000 });

async function withProxy(fn: (proxy: FaultProxy) => Promise<void>): Promise<void> {
  const proxy = await startFaultProxy({ host: upstream.host, port: upstream.port });
  try {
    await fn(proxy);
  } finally {
    await proxy.close();
  }
}

function via(proxy: FaultProxy, extra: ConnectionOptions = {}): ConnectionOptions {
  return { host: proxy.host, port: proxy.port, ...extra };
}

function client(options: ConnectionOptions): Redis {
  const redis = new Redis({
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100,
    ...options,
  });
  redis.on('error', () => undefined);
  return redis;
}

/** A raw socket recording everything it receives and how it ended. */
interface RawConnection {
  readonly socket: Socket;
  received(): string;
  readonly closed: Promise<{ error: (Error & { code?: string }) | undefined; ended: boolean }>;
}

async function rawConnect(proxy: FaultProxy): Promise<RawConnection> {
  const socket = createConnection({ host: proxy.host, port: proxy.port });
  let data = '';
  let error: (Error & { code?: string }) | undefined;
  let ended = false;
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', (err) => (error = err));
  socket.on('end', () => (ended = true));
  // Not events.once(): it rejects on 'error', and the error is what these tests inspect.
  const closed = new Promise<{ error: (Error & { code?: string }) | undefined; ended: boolean }>((resolve) =>
    socket.once('close', () => resolve({ error, ended })),
  );
  await once(socket, 'connect');
  return { socket, received: () => data, closed };
}

test('pass forwards both ways and counts connections', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    assert.equal(proxy.mode(), 'pass');
    const redis = client(via(proxy));
    try {
      await redis.connect();
      assert.equal(await redis.set('proxied', 'yes'), 'OK');
      assert.equal(await upstream.cli('GET', 'proxied'), 'yes');
      assert.equal(proxy.connectionCount(), 1);
      assert.equal(proxy.acceptedCount(), 1);
    } finally {
      redis.disconnect();
    }
    await waitFor(() => proxy.connectionCount() === 0, { timeoutMs: 2000, message: 'connection to be released' });
  });
});

test('latency delays each direction and preserves order', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    const redis = client(via(proxy));
    try {
      await redis.connect();
      await proxy.setMode({ latencyMs: 100 });
      const started = performance.now();
      assert.equal(await redis.ping(), 'PONG');
      const rttMs = performance.now() - started;
      assert.ok(rttMs >= 190, `round trip ${rttMs.toFixed(0)} ms should include 2 x 100 ms`);
      // Commands written while the latency is long must not be overtaken by ones written after it shrinks.
      const slow = Array.from({ length: 50 }, () => redis.incr('latency-order'));
      await delay(20);
      await proxy.setMode({ latencyMs: 5 });
      const fast = Array.from({ length: 50 }, () => redis.incr('latency-order'));
      assert.deepEqual(
        await Promise.all([...slow, ...fast]),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      await proxy.setMode('pass');
      const fastStarted = performance.now();
      await redis.ping();
      assert.ok(performance.now() - fastStarted < 150, 'pass removes the 2 x 100 ms latency');
    } finally {
      redis.disconnect();
    }
  });
});

test('stall forwards nothing until pass, even on an open connection', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    await proxy.setMode('stall');
    const raw = await rawConnect(proxy);
    try {
      raw.socket.write(PING);
      await delay(200);
      assert.equal(raw.received(), '', 'nothing forwarded while stalled');
      assert.equal(proxy.connectionCount(), 1, 'the connection was accepted');
      await proxy.setMode('pass');
      await waitFor(() => raw.received() === '+PONG\r\n', { timeoutMs: 2000, message: 'held request to be answered' });
    } finally {
      raw.socket.destroy();
    }

    // What a client with a command timeout sees (connect itself succeeds).
    await proxy.setMode('stall');
    const stalled = await captureRedisError(via(proxy, { connectTimeout: 300, commandTimeout: 300 }));
    assert.equal(stalled.error.message, 'Command timed out');
    assert.equal(stalled.error.code, undefined);
  });
});

test('reset-mid-reply forwards the request, then RSTs the client on the first reply bytes', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    await proxy.setMode('reset-mid-reply');
    const raw = await rawConnect(proxy);
    raw.socket.write('*3\r\n$3\r\nSET\r\n$5\r\nreset\r\n$4\r\nsent\r\n');
    const { error } = await raw.closed;
    assert.equal(error?.code, 'ECONNRESET');
    assert.equal(raw.received(), '');
    assert.equal(await upstream.cli('GET', 'reset'), 'sent', 'the request reached redis');

    const reset = await captureRedisError(via(proxy));
    assert.equal(reset.error.code, 'ECONNRESET');
    assert.equal(reset.error.message, 'read ECONNRESET');
    assert.equal(proxy.connectionCount(), 0);
  });
});

test('close-on-connect accepts then ends immediately', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    await proxy.setMode('close-on-connect');
    const raw = await rawConnect(proxy);
    const { error, ended } = await raw.closed;
    assert.equal(error, undefined);
    assert.ok(ended, 'a clean FIN, not a reset');
    assert.equal(raw.received(), '');

    const closed = await captureRedisError(via(proxy));
    assert.equal(closed.error.message, 'Connection is closed.');
    assert.deepEqual(closed.events, [], 'ioredis emits no error event for a clean close');
  });
});

test('garbage answers every request with non-RESP bytes and keeps the connection', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    await proxy.setMode('garbage');
    const raw = await rawConnect(proxy);
    try {
      raw.socket.write(PING);
      await waitFor(() => raw.received() === GARBAGE_REPLY.toString(), { timeoutMs: 2000, message: 'garbage' });
      raw.socket.write(PING);
      await waitFor(() => raw.received() === GARBAGE_REPLY.toString().repeat(2), {
        timeoutMs: 2000,
        message: 'garbage again on the same connection',
      });
      assert.equal(proxy.connectionCount(), 1);
    } finally {
      raw.socket.destroy();
    }

    const garbage = await captureRedisError(via(proxy));
    assert.equal(garbage.error.message, 'Unknown RESP type 64 "@". Please report this.');
    assert.equal(garbage.error.code, undefined);
  });
});

test('refuse closes the listener; pass re-listens on the same port', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    const { port } = proxy;
    const survivor = client(via(proxy));
    try {
      await survivor.connect();
      await proxy.setMode('refuse');
      const refused = await captureRedisError(via(proxy));
      assert.equal(refused.error.code, 'ECONNREFUSED');
      assert.match(refused.error.message, new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
      assert.equal(await survivor.ping(), 'PONG', 'connections already open are left alone');

      await proxy.setMode('pass');
      assert.equal(proxy.port, port);
      const redis = client(via(proxy));
      try {
        await redis.connect();
        assert.equal(await redis.ping(), 'PONG');
      } finally {
        redis.disconnect();
      }
    } finally {
      survivor.disconnect();
    }
  });
});

test('resetAll RSTs every open connection', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    const raws = await Promise.all([rawConnect(proxy), rawConnect(proxy)]);
    await waitFor(() => proxy.connectionCount() === 2, { timeoutMs: 2000, message: 'two connections' });
    proxy.resetAll();
    for (const raw of raws) assert.equal((await raw.closed).error?.code, 'ECONNRESET');
    assert.equal(proxy.connectionCount(), 0);
    // The proxy itself keeps working.
    const raw = await rawConnect(proxy);
    raw.socket.write(PING);
    await waitFor(() => raw.received() === '+PONG\r\n', { timeoutMs: 2000, message: 'PONG after resetAll' });
    raw.socket.destroy();
  });
});

test('close() destroys every socket, refuses new connects, and is idempotent', { timeout: 10_000 }, async () => {
  const proxy = await startFaultProxy({ host: upstream.host, port: upstream.port });
  await proxy.setMode({ latencyMs: 5000 });
  const delayed = await rawConnect(proxy);
  delayed.socket.write(PING);
  const upstreamClientsBefore = await upstreamClientCount();
  await proxy.close();
  await proxy.close();
  const { error } = await delayed.closed;
  assert.equal(error, undefined, 'closed, not reset');
  assert.equal(delayed.received(), '', 'the delayed reply timer was cleared with the connection');
  assert.equal(proxy.connectionCount(), 0);
  assert.equal((await captureRedisError(via(proxy))).error.code, 'ECONNREFUSED');
  await proxy.setMode('pass');
  assert.equal((await captureRedisError(via(proxy))).error.code, 'ECONNREFUSED', 'setMode after close is a no-op');
  await waitFor(async () => (await upstreamClientCount()) < upstreamClientsBefore, {
    timeoutMs: 2000,
    message: 'the upstream connection to be closed',
  });
});

async function upstreamClientCount(): Promise<number> {
  return (await upstream.cli('CLIENT', 'LIST')).split('\n').filter((line) => line !== '').length;
}

test('an unreachable upstream closes the client connection', { timeout: 10_000 }, async () => {
  const dead = await startRedis();
  const { port } = dead;
  await dead.stop();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port });
  try {
    const raw = await rawConnect(proxy);
    const { error } = await raw.closed;
    assert.equal(error, undefined);
    assert.equal(proxy.connectionCount(), 0);
  } finally {
    await proxy.close();
  }
});

test('replies held by latency are delivered before an upstream close reaches the client', { timeout: 10_000 }, async () => {
  await withProxy(async (proxy) => {
    await proxy.setMode({ latencyMs: 100 });
    const raw = await rawConnect(proxy);
    raw.socket.write('*1\r\n$4\r\nQUIT\r\n');
    const { error, ended } = await raw.closed;
    assert.equal(error, undefined);
    assert.ok(ended);
    assert.equal(raw.received(), '+OK\r\n');
  });
});
