import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { ProbeRegistry } from '../../src/metrics/registry.ts';
import { ScalarFamily } from '../../src/metrics/families.ts';
import { startHttpServer } from '../../src/http/http-server.ts';
import type { HttpServer } from '../../src/http/http-server.ts';
import { acceptsGzip } from '../../src/http/metrics-response.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { delay, waitFor } from '../support/wait.ts';

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The bytes as they came off the wire (still compressed). */
  readonly body: Buffer;
}

/** A GET that does not decompress (fetch would), so the test sees what the scraper receives. */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('acceptsGzip', () => {
  it('reads Accept-Encoding as Prometheus, curl and browsers send it', () => {
    for (const header of ['gzip', 'GZIP', 'deflate, gzip', 'gzip;q=0.5', 'br;q=1.0, gzip;q=0.8, *;q=0.1', '*', 'x-gzip', 'identity, gzip'])
      assert.ok(acceptsGzip(header), header);
    for (const header of [undefined, '', 'identity', 'br', 'deflate', 'gzip;q=0', 'gzip;q=0.0, *', '*;q=0', 'gzip;q=nonsense'])
      assert.ok(!acceptsGzip(header), String(header));
  });
});

describe('/metrics compression', { timeout: 60_000 }, () => {
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
  let registry: ProbeRegistry;

  before(async () => {
    registry = new ProbeRegistry();
    server = await startHttpServer(
      '127.0.0.1',
      0,
      { metrics: registry, isLive: () => true, isReady: () => true, status: () => ({ targets: [] }), logger },
      { stalledReaderTimeoutMs: STALLED_READER_TIMEOUT_MS },
    );
  });
  after(() => server.close());

  it('answers gzip, chunked, to a scraper that accepts it, and plain to one that does not; both say Vary: Accept-Encoding', async () => {
    const family = registry.addFamily(
      new ScalarFamily({ type: 'gauge', name: 'gzip_test_big', help: 'Many series.', scopeLabels: ['target'], seriesLabels: ['n'] }),
    );
    try {
      for (let target = 0; target < 200; target++) for (let n = 0; n < 100; n++) family.series({ target: `t${target}`, n: String(n) }).set(n);
      const expected = await registry.metrics();
      const gzipped = await rawGet(server.port, '/metrics', { 'Accept-Encoding': 'gzip' });
      assert.equal(gzipped.status, 200);
      assert.equal(gzipped.headers['content-encoding'], 'gzip');
      assert.equal(gzipped.headers['transfer-encoding'], 'chunked');
      assert.equal(gzipped.headers['vary'], 'Accept-Encoding');
      assert.equal(gunzipSync(gzipped.body).toString('utf8'), expected);
      assert.ok(gzipped.body.length < expected.length / 5, `${gzipped.body.length} compressed bytes for ${expected.length}`);

      for (const headers of [{} as Record<string, string>, { 'Accept-Encoding': 'identity' }, { 'Accept-Encoding': 'gzip;q=0' }]) {
        const plain = await rawGet(server.port, '/metrics', headers);
        assert.equal(plain.headers['content-encoding'], undefined, JSON.stringify(headers));
        assert.equal(plain.headers['vary'], 'Accept-Encoding');
        assert.equal(plain.headers['transfer-encoding'], 'chunked');
        assert.equal(plain.body.toString('utf8'), expected);
      }
      const head = await new Promise<RawAnswer>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: server.port, path: '/metrics', method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' }, agent: false },
          (response) => {
            response.resume();
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.alloc(0) }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-encoding'], 'gzip');
    } finally {
      for (let target = 0; target < 200; target++) family.remove({ target: `t${target}` });
    }
  });

  it('a gzip scraper that hangs up mid-stream or stops reading is let go, and the next scrape is whole', async () => {
    const family = registry.addFamily(
      new ScalarFamily({ type: 'gauge', name: 'gzip_test_wide', help: 'Label values that do not compress.', scopeLabels: ['target'], seriesLabels: ['n'] }),
    );
    try {
      // Random label values compress poorly: the gzip output still outgrows loopback's socket buffers.
      for (let target = 0; target < 1_000; target++)
        for (let n = 0; n < 200; n++) family.series({ target: `t${target}`, n: randomBytes(40).toString('base64') });
      const expected = await registry.metrics();

      const hangUp = connect({ host: '127.0.0.1', port: server.port });
      hangUp.on('error', () => undefined);
      let first = 0;
      hangUp.on('data', (chunk: Buffer) => (first += chunk.length));
      hangUp.write('GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
      await waitFor(() => first > 0, { timeoutMs: 5_000, intervalMs: 5, message: 'a first gzip chunk' });
      hangUp.destroy();

      const stalled = connect({ host: '127.0.0.1', port: server.port });
      stalled.on('error', () => undefined);
      let received = 0;
      const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
      stalled.pause();
      stalled.write('GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
      // A paused socket sees no hang-up: read on only after the server has had time to give up. The
      // server can only give up once its writes block, so wait for the bytes arriving to stop first (a
      // render slowed by a busy machine must not be taken for a stalled write), then for the timeout.
      let lastBytes = -1;
      let stableSince = performance.now();
      while (performance.now() - stableSince < STALLED_READER_TIMEOUT_MS * 2) {
        if (stalled.bytesRead !== lastBytes) {
          lastBytes = stalled.bytesRead;
          stableSince = performance.now();
        }
        await delay(50);
      }
      await delay(STALLED_READER_TIMEOUT_MS * 4);
      stalled.on('data', (chunk: Buffer) => (received += chunk.length));
      stalled.resume();
      await Promise.race([closed, delay(10_000)]);
      assert.ok(stalled.destroyed, 'the server closed the stalled connection');

      const next = await rawGet(server.port, '/metrics', { 'Accept-Encoding': 'gzip' });
      const text = gunzipSync(next.body).toString('utf8');
      assert.equal(text, expected);
      assert.ok(received < next.body.length, `the stalled scraper got ${received} of ${next.body.length} bytes`);
      assert.deepEqual(errors, []);
    } finally {
      for (let target = 0; target < 1_000; target++) family.remove({ target: `t${target}` });
    }
  });
});
