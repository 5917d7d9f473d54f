import { connect } from 'node:net';
import { createProbeMetrics } from '../src/metrics/probe-metrics.ts';
import { startHttpServer } from '../src/http/http-server.ts';
import { createSecretRedactor } from '../src/shared/secrets.ts';
import { createLogger } from '../src/logging/logger.ts';
import { benchConfig, progress, summarize, syntheticHealthyCycle } from './support.ts';
import type { Summary } from './support.ts';

export interface ScrapeOptions {
  readonly targets: number;
  readonly scrapes: number;
}

/** One way of scraping: what a scrape puts on the wire and what it costs the process. */
export interface ScrapeRow {
  readonly encoding: 'identity' | 'gzip';
  /** Response bytes as they cross the socket: headers, chunk framing and body. */
  readonly wireBytes: number;
  readonly cpuMs: Summary;
  readonly wallMs: Summary;
}

/**
 * GET /metrics from the daemon's HTTP server at `targets` targets (one successful cycle recorded per
 * target, default series layout), without and with `Accept-Encoding: gzip` as Prometheus sends it.
 * The client is a raw socket that only counts bytes, so the CPU is the server's render, compression
 * and writes (plus that counting).
 */
export async function scrapePhase(options: ScrapeOptions): Promise<{ targets: number; rows: ScrapeRow[] }> {
  const metrics = createProbeMetrics({ version: 'bench' });
  for (const target of benchConfig({ count: options.targets, ports: [6379], schedule: '*/15 * * * * *' }).targets) {
    metrics.registerTarget(target, { authenticated: false }).record(syntheticHealthyCycle(target.name));
  }
  const logger = createLogger({ level: 'error', format: 'json', redactor: createSecretRedactor(), stream: process.stderr });
  const server = await startHttpServer('127.0.0.1', 0, {
    metrics: metrics.registry,
    isLive: () => true,
    isReady: () => true,
    status: () => ({ targets: [] }),
    logger,
  });
  const rows: ScrapeRow[] = [];
  try {
    for (const encoding of ['identity', 'gzip'] as const) {
      progress(`scrape: ${options.targets} targets, Accept-Encoding ${encoding}, ${options.scrapes} scrapes`);
      // One unmeasured scrape first, so both encodings are timed with warm code.
      await scrapeOnce(server.port, encoding);
      const cpu: number[] = [];
      const wall: number[] = [];
      let wireBytes = 0;
      for (let index = 0; index < options.scrapes; index++) {
        const cpuBefore = process.cpuUsage();
        const wallBefore = performance.now();
        wireBytes = await scrapeOnce(server.port, encoding);
        wall.push(performance.now() - wallBefore);
        const used = process.cpuUsage(cpuBefore);
        cpu.push((used.user + used.system) / 1000);
      }
      rows.push({ encoding, wireBytes, cpuMs: summarize(cpu), wallMs: summarize(wall) });
    }
  } finally {
    await server.close();
  }
  return { targets: options.targets, rows };
}

/** One scrape over a fresh connection; resolves with the bytes received once the server closes it. */
function scrapeOnce(port: number, encoding: 'identity' | 'gzip'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      // The last chunk of a chunked body: the response is complete.
      if (chunk.subarray(-5).toString('latin1') === '0\r\n\r\n') socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(bytes));
    socket.write(`GET /metrics HTTP/1.1\r\nHost: bench\r\n${encoding === 'gzip' ? 'Accept-Encoding: gzip\r\n' : ''}Connection: close\r\n\r\n`);
  });
}
