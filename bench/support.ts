import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../src/probe/redis-connection.ts';
import { systemClock } from '../src/shared/clock.ts';
import { parseConfig } from '../src/config/load-config.ts';
import type { DaemonConfig } from '../src/config/types.ts';
import type { CycleResult } from '../src/shared/probe-result.ts';
import { createDaemon } from '../src/daemon/daemon.ts';
import type { Daemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/logging/logger.ts';
import type { Logger } from '../src/logging/logger.ts';
import { connectionOptions } from '../src/probe/redis-connection.ts';
import { cronTickSource, staggerFraction } from '../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../src/shared/secrets.ts';

/** Nearest-rank percentile of an unsorted sample; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** p50/p99/max and the sample size, in the unit of the input. */
export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  let max = Number.NaN;
  for (const value of values) if (!(value <= max)) max = value;
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Progress for a human, on stderr so stdout stays for the final table. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * A daemon config with `count` plain-TCP targets spread round-robin over `ports`, built through the
 * real config loader (JSON is YAML), so every default the daemon gains is filled in as in production.
 */
export function benchConfig(options: BenchConfigOptions): DaemonConfig {
  const config = parseConfig(JSON.stringify(benchConfigFile(options)), {
    env: {},
    readFile: () => {
      throw new Error('the benchmark config reads no files');
    },
    baseDir: process.cwd(),
  });
  // Port 0 (any free port) is not a valid config value, but it is what an in-process benchmark needs.
  return { ...config, server: { ...config.server, port: 0 } };
}

export interface BenchConfigOptions {
  count: number;
  ports: readonly number[];
  schedule: string;
  prefix?: string;
  /** The `metrics:` section; omitted options keep their defaults. */
  metrics?: { stepHistograms?: boolean; preinitialiseFailures?: boolean };
  /** The HTTP port (default 9637). */
  httpPort?: number;
}

/** The config file of benchConfig, as a user would write it (JSON is YAML). */
/** A successful cycle of every default step, as the render and scrape phases record one per target to materialise its series. */
export function syntheticHealthyCycle(target: string): CycleResult {
  return {
    target,
    trigger: 'schedule',
    startedAtMs: Date.now(),
    durationMs: 1.2,
    success: true,
    steps: (['connect', 'ping', 'set', 'get', 'client_list'] as const).map((step) => ({ step, durationMs: 0.25 })),
    unsupportedSteps: [],
    observations: { clientCount: 250 },
  };
}

export function benchConfigFile(options: BenchConfigOptions) {
  const width = String(options.count).length;
  return {
    server: { host: '127.0.0.1', port: options.httpPort ?? 9637, shutdownGrace: '5s' },
    // `all`: the harness's tee records successful cycles from their info lines (winston, at warn, writes none).
    log: { level: 'warn', format: 'json', cycles: 'all' },
    metrics: options.metrics ?? {},
    defaults: { schedule: options.schedule, timeout: '5s', tls: { enabled: false }, steps: ['ping', 'set', 'get', 'client_list'] },
    targets: Array.from({ length: options.count }, (_, index) => ({
      name: `${options.prefix ?? 't'}-${String(index).padStart(width, '0')}`,
      host: '127.0.0.1',
      port: options.ports[index % options.ports.length],
    })),
  };
}

/** What the harness saw of one cycle, from the daemon's own per-cycle log call. */
export interface CycleSample {
  readonly atMs: number;
  readonly target: string;
  readonly ok: boolean;
  readonly trigger: string;
  readonly durationMs: number;
  /** Step → milliseconds, as the daemon logged them (rounded to the microsecond). */
  readonly steps: Readonly<Record<string, number>>;
  readonly reason?: string;
}

export interface LatenessSample {
  readonly atMs: number;
  readonly latenessMs: number;
}

/** An in-process daemon with taps on its cycles and its scheduler. */
export interface DaemonHarness {
  readonly daemon: Daemon;
  /** Every cycle's sample; empty when the harness was asked only to count. */
  readonly cycles: CycleSample[];
  /** Cycles started, and cycles that failed. */
  readonly counts: { started: number; failed: number };
  readonly lateness: LatenessSample[];
  readonly skipped: number[];
  /** Wall time createDaemon took (target registration included). */
  readonly createMs: number;
  stop(): Promise<void>;
}

/**
 * The real daemon (createDaemon, systemClock, node-cron ticks) with its winston logger at level
 * `warn` writing to `logPath` (or nowhere). The logger is teed: the daemon's per-cycle `info`/`warn`
 * calls are recorded before winston sees them, so step timings are exactly what the daemon logs.
 * With `countOnly` the tee asks for nothing the daemon would not log anyway: cycles are counted from the
 * scheduler's starts, failures from their `warn` lines.
 */
export async function startDaemonHarness(options: {
  config: DaemonConfig;
  logPath?: string;
  stagger?: boolean;
  /** Count cycles without a sample of each cycle or start, so the harness adds no work to a CPU measurement. */
  countOnly?: boolean;
}): Promise<DaemonHarness> {
  const redactor = createSecretRedactor();
  const stream = options.logPath ? createWriteStream(options.logPath, { flags: 'a' }) : nullStream();
  const winston = createLogger({ level: options.config.log.level, format: 'json', redactor, stream });
  const cycles: CycleSample[] = [];
  const lateness: LatenessSample[] = [];
  const skipped: number[] = [];
  const counts = { started: 0, failed: 0 };
  const record = (message: string, fields: Record<string, unknown> | undefined): void => {
    if (!fields || (message !== 'probe cycle succeeded' && message !== 'probe cycle failed')) return;
    if (message === 'probe cycle failed') counts.failed++;
    if (options.countOnly) return;
    cycles.push({
      atMs: performance.now(),
      target: String(fields.target),
      ok: message === 'probe cycle succeeded',
      trigger: String(fields.trigger),
      durationMs: Number(fields.durationMs),
      steps: (fields.steps ?? {}) as Record<string, number>,
      ...(fields.reason !== undefined ? { reason: String(fields.reason) } : {}),
    });
  };
  const logger: Logger = {
    error: (message, fields) => winston.error(message, fields),
    warn: (message, fields) => {
      record(message, fields);
      winston.warn(message, fields);
    },
    info: (message, fields) => {
      record(message, fields);
      winston.info(message, fields);
    },
    debug: (message, fields) => winston.debug(message, fields),
    // Without countOnly every cycle line reaches the tee, whatever winston writes.
    isEnabled: (level) => (!options.countOnly && (level === 'info' || level === 'warn')) || winston.isEnabled(level),
    flush: () => winston.flush(),
  };
  const started = performance.now();
  const daemon = createDaemon(options.config, {
    clock: systemClock,
    logger,
    redactor,
    tickSource: cronTickSource(),
    instanceId: 'bench',
    randomValue: randomUUID,
    version: 'bench',
    random: Math.random,
    ...(options.stagger !== undefined ? { stagger: options.stagger } : {}),
    schedulerObserver: {
      onRunStarted: (_job, latenessMs) => {
        counts.started++;
        if (!options.countOnly) lateness.push({ atMs: performance.now(), latenessMs });
      },
      onRunSkipped: () => skipped.push(performance.now()),
    },
  });
  const createMs = performance.now() - started;
  await daemon.start();
  return {
    daemon,
    cycles,
    counts,
    lateness,
    skipped,
    createMs,
    async stop() {
      await daemon.stop();
      await winston.flush();
      if (stream instanceof Writable) stream.end();
    },
  };
}

function nullStream(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * Exactly the connection options the probe uses (src/probe/redis-connection.ts) for a benchmark target on
 * `port`, so the bare loops measure the same client.
 */
export function probeLikeOptions(port: number): ConnectionOptions {
  const [target] = benchConfig({ count: 1, ports: [port], schedule: '* * * * * *' }).targets;
  return connectionOptions(target!);
}

export async function bareClient(port: number): Promise<Redis> {
  const client = new Redis(probeLikeOptions(port));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The four probe commands on a persistent connection, with no checks beyond what the reply needs. */
export async function bareCycle(client: Redis, key: string, pingTimes?: number[]): Promise<void> {
  const started = performance.now();
  await client.ping();
  pingTimes?.push(performance.now() - started);
  await client.set(key, randomUUID(), 'EX', 60);
  await client.get(key);
  await client.client('LIST');
}

/**
 * A bare loop paced like the daemon: a timer at every whole `intervalMs`, then each connection at
 * its stable stagger offset (the same FNV fraction the scheduler uses) runs the four commands.
 */
export function pacedBareLoop(clients: readonly { name: string; client: Redis }[], intervalMs: number, pingTimes?: number[]) {
  let cycles = 0;
  let errors = 0;
  let stopped = false;
  let tick: ReturnType<typeof setTimeout> | undefined;
  const pending = new Set<ReturnType<typeof setTimeout>>();
  const running = new Set<string>();
  const onTick = (plannedAtMs: number): void => {
    if (stopped) return;
    for (const { name, client } of clients) {
      const offsetMs = Math.floor(staggerFraction(name) * intervalMs);
      const timer = setTimeout(
        () => {
          pending.delete(timer);
          if (stopped || running.has(name)) return;
          running.add(name);
          // Counted at the start, as the daemon harness counts the scheduler's starts.
          cycles++;
          bareCycle(client, `bare:${name}`, pingTimes)
            .catch(() => errors++)
            .finally(() => running.delete(name));
        },
        Math.max(0, plannedAtMs + offsetMs - Date.now()),
      );
      pending.add(timer);
    }
    const next = plannedAtMs + intervalMs;
    tick = setTimeout(() => onTick(next), next - Date.now());
  };
  const first = Math.ceil(Date.now() / intervalMs) * intervalMs;
  tick = setTimeout(() => onTick(first), first - Date.now());
  return {
    /** Cycles started. */
    get cycles() {
      return cycles;
    },
    get errors() {
      return errors;
    },
    stop() {
      stopped = true;
      if (tick) clearTimeout(tick);
      for (const timer of pending) clearTimeout(timer);
    },
  };
}

/** CPU time of this process (user + system, every thread) in microseconds. */
export function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Samples RSS and event-loop delay while a phase runs. */
export function startResourceMonitor(intervalMs = 250) {
  let maxRss = process.memoryUsage.rss();
  const timer = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage.rss());
  }, intervalMs);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    get maxRssBytes() {
      return Math.max(maxRss, process.memoryUsage.rss());
    },
    resetLoop: () => loop.reset(),
    loopDelayMs: () => ({ p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 }),
    stop() {
      clearInterval(timer);
      loop.disable();
    },
  };
}

/** One timed render of /metrics text: wall and CPU time, and the longest the event loop was held meanwhile. */
export interface RenderTiming {
  /** UTF-8 bytes of the whole text. */
  readonly bytes: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  /** Worst event-loop delay seen by a 1 ms timer during the render: the longest synchronous block. */
  readonly longestBlockMs: number;
}

/**
 * Renders as GET /metrics does: chunk by chunk, each encoded to UTF-8 as a socket write would, none kept
 * (holding the whole text would age it into the old generation and time a GC that serving never pays).
 */
export async function timeRender(chunks: () => AsyncIterable<string>): Promise<RenderTiming> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Let the monitor's timer start before the render can hold the loop.
  await sleep(5);
  loop.reset();
  const cpu = cpuMicros();
  const started = performance.now();
  let bytes = 0;
  for await (const chunk of chunks()) bytes += Buffer.from(chunk, 'utf8').length;
  const wallMs = performance.now() - started;
  const cpuMs = (cpuMicros() - cpu) / 1000;
  // The timer due during a final block fires only after it: give it that turn.
  await sleep(2);
  loop.disable();
  return { bytes, wallMs, cpuMs, longestBlockMs: loop.max / 1e6 };
}

/** Series of a rendered exposition (sample lines, in total and per metric family), chunk by chunk, untimed. */
export async function countRenderedSeries(chunks: AsyncIterable<string>): Promise<{ total: number; byFamily: Record<string, number> }> {
  const byFamily: Record<string, number> = {};
  let total = 0;
  // A chunk ends with a whole line, so each is counted on its own.
  for await (const text of chunks) {
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (end > start && text.charCodeAt(start) !== 35 /* # */) {
        total++;
        let nameEnd = start;
        while (nameEnd < end && text[nameEnd] !== '{' && text[nameEnd] !== ' ') nameEnd++;
        const family = text.slice(start, nameEnd).replace(/_(bucket|sum|count)$/, '');
        byFamily[family] = (byFamily[family] ?? 0) + 1;
      }
      start = end + 1;
    }
  }
  return { total, byFamily };
}

/** Waits until `predicate` holds, polling; throws with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}
