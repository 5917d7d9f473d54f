import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { Counter } from 'prom-client';
import { ProbeRegistry } from '../../src/metrics/registry.ts';
import { ScalarFamily } from '../../src/metrics/families.ts';
import { startHttpServer } from '../../src/http/http-server.ts';
import type { HttpServer } from '../../src/http/http-server.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { delay, waitFor } from '../support/wait.ts';

/** A raw TCP client: what it received and when the server closed it. */
interface RawClient {
  readonly socket: Socket;
  received(): string;
  /** Resolves with the ms from connect to close. */
  readonly closed: Promise<number>;
}

function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const startedMs = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((done) => socket.on('close', () => done(performance.now() - startedMs)));
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Sends a request's header one byte at a time, every `everyMs`, never finishing it; stops when the server hangs up. */
function slowloris(client: RawClient, everyMs: number): void {
  const request = `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(10_000)}`;
  let index = 0;
  const timer = setInterval(() => {
    if (client.socket.destroyed || index >= request.length) {
      clearInterval(timer);
      return;
    }
    client.socket.write(request[index++]!);
  }, everyMs);
  void client.closed.then(() => clearInterval(timer));
}

const statusLine = (text: string) => text.split('\r\n')[0] ?? '';

/** Timed GET, for "other clients are not delayed". */
async function timedGet(url: string, init?: RequestInit): Promise<{ status: number; body: string; ms: number }> {
  const startedMs = performance.now();
  const response = await fetch(url, init);
  const body = await response.text();
  return { status: response.status, body, ms: performance.now() - startedMs };
}

describe('startHttpServer with short slow-client limits', { timeout: 30_000 }, () => {
  const HEADERS_TIMEOUT_MS = 500;
  const REQUEST_TIMEOUT_MS = 1_000;
  const STALLED_READER_TIMEOUT_MS = 500;
  const errors: string[] = [];
  const logger: Logger = {
    error: (message) => void errors.push(message),
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
    isEnabled: (level) => level === 'error',
    flush: () => Promise.resolve(),
  };
  let server: HttpServer;
  let base: string;
  let failStatus = false;
  let registry: ProbeRegistry;

  before(async () => {
    registry = new ProbeRegistry();
    new Counter({ name: 'http_test_total', help: 'A sample so /metrics is not empty.', registers: [registry] }).inc();
    server = await startHttpServer(
      '127.0.0.1',
      0,
      {
        metrics: registry,
        isLive: () => true,
        isReady: () => false,
        status: () => {
          if (failStatus) throw new Error('status source failed');
          return { targets: [] };
        },
        logger,
      },
      { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, stalledReaderTimeoutMs: STALLED_READER_TIMEOUT_MS },
    );
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('serves the four paths; anything else is 404, query strings are ignored', async () => {
    assert.match((await timedGet(`${base}/metrics?debug=1`)).body, /^http_test_total 1$/m);
    assert.equal((await timedGet(`${base}/healthz`)).status, 200);
    assert.equal((await timedGet(`${base}/readyz`)).status, 503);
    assert.deepEqual(JSON.parse((await timedGet(`${base}/`)).body), { targets: [] });
    for (const path of ['/nope', '/metrics/', '/metrics/x', '//metrics', '/%2e%2e/etc/passwd', `/${'x'.repeat(4000)}`, '/index.html']) {
      const response = await timedGet(`${base}${path}`);
      assert.equal(response.status, 404, path.slice(0, 40));
      assert.equal(response.body, 'not found\n');
    }
  });

  it('answers every method but GET and HEAD with 405 and Allow, never reading the body', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await fetch(`${base}/metrics`, { method, ...(method === 'OPTIONS' ? {} : { body: 'x'.repeat(1_000_000) }) });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
      await response.text();
    }
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('rejects a header larger than 8 KB with 431 and keeps serving', async () => {
    const client = await rawClient(server.port);
    client.socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9 * 1024)}\r\n\r\n`);
    await client.closed;
    assert.match(statusLine(client.received()), /^HTTP\/1\.1 431 /);
    const big = await fetch(`${base}/metrics`, { headers: { 'x-big': 'b'.repeat(16 * 1024) } });
    assert.equal(big.status, 431);
    assert.equal((await timedGet(`${base}/metrics`)).status, 200);
  });

  it('cuts off a slowloris client and an idle one after the headers timeout, serving others meanwhile', async () => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => rawClient(server.port)));
    for (const client of slow) slowloris(client, 20);
    const idle = await rawClient(server.port);
    const timings: number[] = [];
    const deadline = performance.now() + HEADERS_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const response = await timedGet(`${base}/metrics`);
      assert.equal(response.status, 200);
      timings.push(response.ms);
      await delay(50);
    }
    const bound = HEADERS_TIMEOUT_MS + HEADERS_TIMEOUT_MS + 1_000;
    for (const client of [...slow, idle]) {
      const closedAfterMs = await Promise.race([client.closed, delay(bound + 1_000).then(() => Number.POSITIVE_INFINITY)]);
      assert.ok(closedAfterMs <= bound, `closed after ${closedAfterMs} ms`);
    }
    for (const client of slow) assert.ok(client.received() === '' || /^HTTP\/1\.1 (408|400) /.test(client.received()), statusLine(client.received()));
    assert.ok(Math.max(...timings) < 200, `other clients were served in ${Math.max(...timings).toFixed(1)} ms at worst`);
  });

  it('streams a large exposition in chunks, whole, and stops writing when the scraper hangs up', async () => {
    const family = registry.addFamily(
      new ScalarFamily({ type: 'gauge', name: 'http_test_big', help: 'Many series.', scopeLabels: ['target'], seriesLabels: ['n'] }),
    );
    try {
      for (let target = 0; target < 200; target++) for (let n = 0; n < 100; n++) family.series({ target: `t${target}`, n: String(n) }).set(n);
      const expected = await registry.metrics();
      const response = await fetch(`${base}/metrics`);
      assert.equal(response.headers.get('transfer-encoding'), 'chunked');
      assert.equal(await response.text(), expected);
      assert.equal(expected.match(/^http_test_big\{/gm)?.length, 20_000);

      const client = await rawClient(server.port);
      client.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => client.received().length > 0, { timeoutMs: 5_000, intervalMs: 5, message: 'a first chunk' });
      client.socket.destroy();
      await client.closed;
      assert.equal((await timedGet(`${base}/metrics`)).body, expected, 'the next scrape is whole');
    } finally {
      for (let target = 0; target < 200; target++) family.remove({ target: `t${target}` });
    }
  });

  it('cuts off a scraper that stops reading /metrics, and serves the next one whole', async () => {
    const family = registry.addFamily(
      new ScalarFamily({ type: 'gauge', name: 'http_test_wide', help: 'Long label values.', scopeLabels: ['target'], seriesLabels: ['n'] }),
    );
    const padding = 'p'.repeat(60);
    try {
      // ~25 MB: more than loopback's socket buffers hold, so the writes must wait for the reader.
      for (let target = 0; target < 1_000; target++) for (let n = 0; n < 250; n++) family.series({ target: `t${target}`, n: `${padding}${n}` });
      const stalled = connect({ host: '127.0.0.1', port: server.port });
      stalled.on('error', () => undefined);
      let received = 0;
      const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
      stalled.pause();
      stalled.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      // A paused socket sees no hang-up: read on only after the server has had time to give up.
      await delay(STALLED_READER_TIMEOUT_MS * 4);
      stalled.on('data', (chunk: Buffer) => (received += chunk.length));
      stalled.resume();
      await Promise.race([closed, delay(10_000)]);
      assert.ok(stalled.destroyed, 'the server closed the stalled connection');
      const next = await timedGet(`${base}/metrics`);
      assert.equal(next.status, 200);
      assert.ok(next.body.endsWith(`http_test_wide{target="t999",n="${padding}249"} 0\n`));
      assert.ok(received < next.body.length, `the stalled scraper got ${received} of ${next.body.length} bytes`);
    } finally {
      for (let target = 0; target < 1_000; target++) family.remove({ target: `t${target}` });
    }
  });

  it('a failing source is a 500 for that request only, logged, and the server keeps serving', async () => {
    failStatus = true;
    try {
      assert.equal((await timedGet(`${base}/`)).status, 500);
    } finally {
      failStatus = false;
    }
    assert.deepEqual(errors, ['http handler failed']);
    assert.equal((await timedGet(`${base}/`)).status, 200);
  });
});

describe('the spawned daemon under hostile HTTP clients keeps probing on schedule', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let dir: string;
  let daemon: ChildProcessWithoutNullStreams;
  let exited: Promise<CliRun>;
  let base: string;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  const cycles = async () => sampleValue(await metrics(), 'redis_probe_cycles_total', { target: 'healthy' }) ?? 0;

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-http-'));
    const httpPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    await writeFile(
      join(dir, 'config.yaml'),
      `server: { host: 127.0.0.1, port: ${httpPort} }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
targets:
  - { name: healthy, host: 127.0.0.1, port: ${redis.port} }
`,
    );
    daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')]);
    exited = collect(daemon, 60_000);
    await waitFor(async () => (await cycles().catch(() => 0)) >= 1, { timeoutMs: 10_000, intervalMs: 100, message: 'a first cycle' });
  });
  after(async () => {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an oversized header gets 431 and probing carries on', async () => {
    const before = await cycles();
    const big = await fetch(`${base}/metrics`, { headers: { 'x-big': 'b'.repeat(9 * 1024) } });
    assert.equal(big.status, 431);
    await waitFor(async () => (await cycles()) >= before + 2, { timeoutMs: 4_000, message: 'two more cycles' });
    assert.equal(sampleValue(await metrics(), 'redis_probe_success', { target: 'healthy' }), 1);
  });

  it('slowloris clients are cut off by the default timeouts (5 s, checked every second) without delaying cycles or scrapes', async (t) => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => rawClient(Number(new URL(base).port))));
    for (const client of slow) slowloris(client, 100);
    const startedMs = performance.now();
    const before = await cycles();
    const scrapeMs: number[] = [];
    // Scrape through the whole attack: the server stays responsive while the slow clients hold their sockets.
    while (performance.now() - startedMs < 5_000) {
      const response = await timedGet(`${base}/metrics`);
      assert.equal(response.status, 200);
      scrapeMs.push(response.ms);
      await delay(100);
    }
    const closedAfterMs = await Promise.all(slow.map((client) => Promise.race([client.closed, delay(8_000).then(() => Number.POSITIVE_INFINITY)])));
    const elapsedS = (performance.now() - startedMs) / 1000;
    const ran = (await cycles()) - before;
    t.diagnostic(
      `slow clients closed after ${Math.round(Math.min(...closedAfterMs))}-${Math.round(Math.max(...closedAfterMs))} ms; ` +
        `${ran} cycles in ${elapsedS.toFixed(1)} s; scrapes max ${Math.max(...scrapeMs).toFixed(1)} ms`,
    );
    assert.ok(Math.max(...closedAfterMs) <= 5_000 + 1_000 + 1_000, 'cut off within the headers timeout plus one check interval');
    assert.ok(ran >= Math.floor(elapsedS) - 1, `${ran} cycles in ${elapsedS.toFixed(1)} s`);
    assert.ok(Math.max(...scrapeMs) < 250, `scrapes took up to ${Math.max(...scrapeMs).toFixed(1)} ms`);
    assert.equal(sampleValue(await metrics(), 'redis_probe_success', { target: 'healthy' }), 1);
  });

  it('hundreds of clients that send garbage or never finish their headers, and never close, give every descriptor back', async (t) => {
    const pid = daemon.pid!;
    const port = Number(new URL(base).port);
    const descriptors = async () => (await readdir(`/proc/${pid}/fd`)).length;
    // Settled: the probe connection and the scrape connections of earlier tests are open or gone.
    await fetch(`${base}/healthz`);
    const baseline = await descriptors();
    const BAD_CLIENTS = 300;
    // allowHalfOpen: a client that ignores the server's FIN, so only the server can free the descriptor.
    const replies = new Map<Socket, string>();
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        replies.set(socket, '');
        socket.on('data', (chunk: Buffer) => replies.set(socket, (replies.get(socket) ?? '') + chunk.toString('latin1')));
        socket.on('error', () => undefined);
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      });
    const clients: Socket[] = [];
    try {
      for (let index = 0; index < BAD_CLIENTS; index++) {
        const socket = await open();
        clients.push(socket);
        socket.write(index % 2 === 0 ? 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n' : 'NOT HTTP AT ALL\r\n\r\n');
      }
      const held = await descriptors();
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      // The garbage ones are answered at once, the slow ones after the 5 s headers timeout (checked every second).
      const after = await waitFor(
        async () => {
          const count = await descriptors();
          return count <= baseline ? count : false;
        },
        { timeoutMs: 15_000, intervalMs: 250, message: `the daemon's descriptors to return to ${baseline}` },
      ).catch(async (error: unknown) => {
        t.diagnostic(`descriptors: ${baseline} before, ${held} with ${BAD_CLIENTS} bad clients, ${await descriptors()} after the timeouts`);
        throw error;
      });
      t.diagnostic(`descriptors: ${baseline} before, ${held} with ${BAD_CLIENTS} bad clients, ${after} once they were cut off`);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      clients.forEach((socket, index) => {
        const reply = statusLine(replies.get(socket) ?? '');
        if (index % 2 === 1) assert.equal(reply, 'HTTP/1.1 400 Bad Request');
        else assert.ok(reply === '' || reply === 'HTTP/1.1 408 Request Timeout', reply);
      });
      const scrape = await fetch(`${base}/metrics`);
      assert.equal(scrape.status, 200);
      assert.match(await scrape.text(), /redis_probe_cycles_total/);
    } finally {
      for (const socket of clients) socket.destroy();
    }
  });

  it('still stops cleanly afterwards', async () => {
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
  });
});
