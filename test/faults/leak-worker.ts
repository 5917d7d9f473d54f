/**
 * Child process of leak.test.ts (run with --expose-gc): drives one in-process daemon through back-to-back failing
 * cycles against a faulty endpoint and prints one JSON line with heap, handle and socket figures. It owns nothing
 * but the daemon, so every handle it counts is the daemon's.
 */
import { Writable } from 'node:stream';
import { systemClock } from '../../src/shared/clock.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { TickSource } from '../../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { faultConfig, faultTarget } from './support.ts';

/** What the worker reports; leak.test.ts parses it. */
export interface LeakReport {
  readonly cycles: number;
  readonly reasons: Record<string, number>;
  readonly durationMs: number;
  readonly heapBeforeBytes: number;
  readonly heapAfterBytes: number;
  readonly rssAfterBytes: number;
  readonly handlesBefore: number;
  readonly handlesAfter: number;
  readonly socketsBefore: number;
  readonly socketsAfter: number;
  readonly resourcesAfter: string[];
  readonly errors: string[];
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const port = Number(process.env.LEAK_PORT);
const cycles = Number(process.env.LEAK_CYCLES ?? 1000);
const warmUp = Number(process.env.LEAK_WARM_UP ?? 1000);
const timeoutMs = Number(process.env.LEAK_TIMEOUT_MS ?? 400);

const errors: string[] = [];
process.on('unhandledRejection', (reason) => errors.push(`unhandledRejection: ${String(reason)}`));
process.on('uncaughtException', (error) => errors.push(`uncaughtException: ${String(error)}`));

const reasons = new Map<string, number>();
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk
      .toString()
      .split('\n')
      .filter((part) => part !== '')) {
      const line = JSON.parse(text) as { message?: string; reason?: string; step?: string };
      const outcome = line.message === 'probe cycle failed' ? `${line.step}/${line.reason}` : line.message === 'probe cycle succeeded' ? 'success' : undefined;
      if (outcome !== undefined) reasons.set(outcome, (reasons.get(outcome) ?? 0) + 1);
    }
    done();
  },
});
const redactor = createSecretRedactor();
const idle: TickSource = { every: () => ({ stop: () => undefined, nextRunAtMs: () => undefined }) };
const daemon = createDaemon(faultConfig([faultTarget('leak', port, { timeoutMs })]), {
  clock: systemClock,
  logger: createLogger({ level: 'info', format: 'json', redactor, stream: sink }),
  redactor,
  tickSource: idle,
  instanceId: 'leak',
  randomValue: () => 'leak-value',
  version: '0.0.0-leak',
  random: Math.random,
});

const sockets = () => process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap' || type === 'TLSWrap').length;
const settle = () => new Promise((resolve) => setTimeout(resolve, 2_500));
/** ioredis keeps a 2 s timer per disconnected socket; measure after those ran out. */
async function measure() {
  await settle();
  for (let round = 0; round < 3; round++) gc!();
  return { heap: process.memoryUsage().heapUsed, handles: process.getActiveResourcesInfo().length, sockets: sockets() };
}

await daemon.start();
for (let index = 0; index < warmUp; index++) await daemon.scheduler.trigger('leak', 'manual');
await daemon.metrics.registry.metrics();
const before = await measure();
reasons.clear();
const startedMs = performance.now();
for (let index = 0; index < cycles; index++) await daemon.scheduler.trigger('leak', 'manual');
const durationMs = performance.now() - startedMs;
await daemon.metrics.registry.metrics();
const afterRun = await measure();
await daemon.stop();

const report: LeakReport = {
  cycles,
  reasons: Object.fromEntries(reasons),
  durationMs,
  heapBeforeBytes: before.heap,
  heapAfterBytes: afterRun.heap,
  rssAfterBytes: process.memoryUsage().rss,
  handlesBefore: before.handles,
  handlesAfter: afterRun.handles,
  socketsBefore: before.sockets,
  socketsAfter: afterRun.sockets,
  resourcesAfter: process.getActiveResourcesInfo(),
  errors,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
