import type { ServerResponse } from 'node:http';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';

/**
 * The fastest level: exposition text is so repetitive that it already shrinks by more than an order of
 * magnitude, and the bench's `scrape` section shows the default level costing more CPU than it saves.
 */
export const GZIP_LEVEL = 1;

/** Whether an Accept-Encoding header lets us answer gzip (`gzip` or `*` with a q above 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const quality = Number.isFinite(q) ? q : 0;
    if (name.trim() === 'gzip' || name.trim() === 'x-gzip') gzip = quality;
    else if (name.trim() === '*') any = quality;
  }
  return (gzip ?? any ?? 0) > 0;
}

/**
 * Streams the exposition's chunks to the scraper, through gzip when `gzip` is set, as the render yields
 * them: nothing waits for the whole text. A writer that reports a full buffer is waited for, and a
 * scraper that takes nothing for `stalledReaderTimeoutMs` is cut off, so it cannot hold a render open.
 */
export async function streamMetrics(
  response: ServerResponse,
  chunks: AsyncIterable<string>,
  options: { gzip: boolean; stalledReaderTimeoutMs: number },
): Promise<void> {
  let sink: Writable = response;
  if (options.gzip) {
    const gzip = createGzip({ level: GZIP_LEVEL });
    // pipe() holds gzip's output while the socket is full, so gzip's own buffer fills and its write() says so.
    gzip.pipe(response);
    gzip.on('error', () => response.destroy());
    // A scraper gone (or cut off) mid-render: the compressor has nobody to write for.
    response.once('close', () => gzip.destroy());
    sink = gzip;
  }
  for await (const chunk of chunks) {
    // The scraper went away (or timed out): stop writing for nobody.
    if (response.destroyed) return;
    if (!sink.write(chunk)) await drainedOrClosed(sink, response, options.stalledReaderTimeoutMs);
  }
  if (!response.destroyed) sink.end();
}

/** Resolves when `sink` can take more data, or the response can never again (closed, or cut off for not reading). */
function drainedOrClosed(sink: Writable, response: ServerResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      sink.off('drain', done);
      response.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      response.destroy();
      done();
    }, timeoutMs);
    sink.on('drain', done);
    response.on('close', done);
  });
}
