import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logging.ts';

/** The exposition GET /metrics sends, in chunks, so it goes out while the rest is still being written. */
export interface MetricsSource {
  readonly contentType: string;
  chunks(): AsyncIterable<string>;
}

/** What the HTTP endpoints read; each is cheap and never touches a monitored cache. */
export interface HttpSources {
  readonly metrics: MetricsSource;
  /** Liveness: the process and scheduler are making progress. */
  readonly isLive: () => boolean;
  /** Readiness: config loaded and scheduler running (never depends on a cache being up). */
  readonly isReady: () => boolean;
  /** The status page body. */
  readonly status: () => unknown;
  readonly logger: Logger;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Slow or stuck clients are cut off quickly; they must never hold the process. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8 * 1024;
/** A scraper that takes no more of /metrics for this long is cut off, so it cannot hold a render open. */
const STALLED_READER_TIMEOUT_MS = 10_000;
/** Node checks those timeouts only this often (its default is 30 s, which would let a slow client stay 30 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Overrides of the slow-client limits (tests shorten them); the defaults suit production. */
export interface HttpServerOptions {
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly stalledReaderTimeoutMs?: number;
}

export async function startHttpServer(host: string, port: number, sources: HttpSources, options: HttpServerOptions = {}): Promise<HttpServer> {
  const headersTimeoutMs = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const stalledReaderTimeoutMs = options.stalledReaderTimeoutMs ?? STALLED_READER_TIMEOUT_MS;
  const routes: Readonly<Record<string, (response: ServerResponse) => Promise<void> | void>> = {
    '/metrics': async (response) => {
      response.writeHead(200, { 'Content-Type': sources.metrics.contentType, 'Cache-Control': 'no-store' });
      if (response.req.method === 'HEAD') return void response.end();
      for await (const chunk of sources.metrics.chunks()) {
        // The scraper went away (or timed out): stop writing for nobody.
        if (response.destroyed) return;
        if (!response.write(chunk)) await drainedOrClosed(response, stalledReaderTimeoutMs);
      }
      response.end();
    },
    '/healthz': (response) => {
      const live = sources.isLive();
      send(response, live ? 200 : 503, 'text/plain; charset=utf-8', live ? 'ok\n' : 'scheduler is not ticking\n');
    },
    '/readyz': (response) => {
      const ready = sources.isReady();
      send(response, ready ? 200 : 503, 'text/plain; charset=utf-8', ready ? 'ready\n' : 'not ready\n');
    },
    '/': (response) => send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(sources.status(), null, 2)}\n`),
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (!route) return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    await route(response);
  };

  const server = createServer(
    {
      requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, headersTimeoutMs),
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    (request, response) => {
      // Bodies are never read: drop them so a large upload costs nothing.
      request.resume();
      handle(request, response).catch((error: unknown) => {
        sources.logger.error('http handler failed', { path: request.url, error: String(error) });
        if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else response.destroy();
      });
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.write(`HTTP/1.1 ${clientErrorStatus(error)}\r\nConnection: close\r\n\r\n`);
    // Not end(): the server allows half-open sockets, so a client that ignores the FIN would keep the
    // descriptor, and enough of them starve /healthz. The answer is already in the kernel's buffer.
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Resolves when the response can take more data, or can never again (closed, or cut off for not reading). */
function drainedOrClosed(response: ServerResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      response.destroy();
      done();
    }, timeoutMs);
    response.on('drain', done);
    response.on('close', done);
  });
}

/** The status line for a request the parser refused or the server timed out. */
function clientErrorStatus(error: NodeJS.ErrnoException): string {
  if (error.code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
