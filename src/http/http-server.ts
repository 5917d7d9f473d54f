import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../logging/logger.ts';
import { OPEN_PATHS, createAccessControl, httpsOptions, refusesConnection } from './access.ts';
import { acceptsGzip, streamMetrics } from './metrics-response.ts';
import { STATUS_PAGE_CSP, renderStatusPage, wantsHtml } from './status-page.ts';
import type { StatusReport } from './status-page.ts';
import type { WebConfig } from './web-config.ts';
import { describeError } from '../shared/error-text.ts';

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
  /** The status page's content. */
  readonly status: () => StatusReport;
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
  /** TLS and basic auth from `--web.config.file`; absent: plain HTTP, open. */
  readonly web?: WebConfig;
}

export async function startHttpServer(host: string, port: number, sources: HttpSources, options: HttpServerOptions = {}): Promise<HttpServer> {
  const headersTimeoutMs = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const stalledReaderTimeoutMs = options.stalledReaderTimeoutMs ?? STALLED_READER_TIMEOUT_MS;
  const routes: Readonly<Record<string, (response: ServerResponse) => Promise<void> | void>> = {
    '/metrics': async (response) => {
      const gzip = acceptsGzip(response.req.headers['accept-encoding']);
      response.writeHead(200, {
        'Content-Type': sources.metrics.contentType,
        'Cache-Control': 'no-store',
        Vary: 'Accept-Encoding',
        ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
      });
      if (response.req.method === 'HEAD') return void response.end();
      await streamMetrics(response, sources.metrics.chunks(), { gzip, stalledReaderTimeoutMs });
    },
    '/healthz': (response) => {
      const live = sources.isLive();
      send(response, live ? 200 : 503, 'text/plain; charset=utf-8', live ? 'ok\n' : 'scheduler is not ticking\n');
    },
    '/readyz': (response) => {
      const ready = sources.isReady();
      send(response, ready ? 200 : 503, 'text/plain; charset=utf-8', ready ? 'ready\n' : 'not ready\n');
    },
    '/': (response) => {
      response.setHeader('Vary', 'Accept');
      if (!wantsHtml(response.req.headers.accept)) {
        send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(sources.status(), null, 2)}\n`);
        return;
      }
      response.setHeader('Content-Security-Policy', STATUS_PAGE_CSP);
      response.setHeader('X-Content-Type-Options', 'nosniff');
      response.setHeader('Referrer-Policy', 'no-referrer');
      send(response, 200, 'text/html; charset=utf-8', renderStatusPage(sources.status()));
    },
  };

  const access = createAccessControl(options.web);
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (access && !OPEN_PATHS.has(path)) {
      const refusal = await access.check(request);
      if (refusal) {
        for (const [name, value] of Object.entries(refusal.headers)) response.setHeader(name, value);
        send(response, refusal.status, 'text/plain; charset=utf-8', refusal.body);
        return;
      }
    }
    const route = routes[path];
    if (!route) {
      send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    await route(response);
  };

  const serverOptions = {
    requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, headersTimeoutMs),
    maxHeaderSize: MAX_HEADER_BYTES,
  };
  const tls = options.web?.tls;
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    // Bodies are never read: drop them so a large upload costs nothing.
    request.resume();
    handle(request, response).catch((error: unknown) => {
      sources.logger.error('http handler failed', { path: request.url, error: describeError(error) });
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  };
  const server = tls ? createHttpsServer({ ...serverOptions, ...httpsOptions(tls) }, onRequest) : createServer(serverOptions, onRequest);
  if (tls) {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (refusesConnection(socket, tls)) socket.destroy();
    });
  }
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
