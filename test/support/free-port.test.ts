import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from './free-port.ts';

test('freePort returns a port that can be bound on 127.0.0.1', { timeout: 5000 }, async () => {
  const port = await freePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${port}`);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('freePort hands out distinct ports to concurrent callers', { timeout: 5000 }, async () => {
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  // The kernel may legitimately reuse a port once released, but not all eight at once.
  assert.ok(new Set(ports).size > 1, `ports ${ports.join(',')}`);
});
