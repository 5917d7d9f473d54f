import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { systemClock } from '../src/shared/clock.ts';
import { createProbeMetrics } from '../src/metrics/probe-metrics.ts';
import { createTargetProbe } from '../src/probe/probe.ts';
import { MEMORY_ENV } from '../src/commands/memory-settings.ts';
import { createSecretRedactor } from '../src/shared/secrets.ts';
import { startRedis } from '../test/support/redis-server.ts';
import type { RedisServer } from '../test/support/redis-server.ts';
import { CLI_PATH } from '../test/support/cli-process.ts';
import { freePort } from '../test/support/free-port.ts';
import { promClientTwin } from './prom-client-twin.ts';
import {
  bareClient,
  bareCycle,
  benchConfig,
  benchConfigFile,
  countRenderedSeries,
  cpuMicros,
  pacedBareLoop,
  progress,
  sleep,
  startDaemonHarness,
  startResourceMonitor,
  summarize,
  syntheticHealthyCycle,
  timeRender,
  until,
} from './support.ts';
import type { CycleSample, DaemonHarness, RenderTiming, Summary } from './support.ts';

const run = promisify(execFile);

async function withServers<T>(count: number, body: (servers: RedisServer[]) => Promise<T>): Promise<T> {
  const servers: RedisServer[] = [];
  try {
    // A few at a time: 40 servers start in a couple of seconds without a fork storm on 2 cores.
    for (let index = 0; index < count; index += 8) {
      servers.push(...(await Promise.all(Array.from({ length: Math.min(8, count - index) }, () => startRedis()))));
    }
    return await body(servers);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const pingOf = (cycles: readonly CycleSample[]): number[] => cycles.flatMap((cycle) => (cycle.ok && cycle.steps.ping !== undefined ? [cycle.steps.ping] : []));

// ---------------------------------------------------------------- 1. accuracy

export interface AccuracyOptions {
  readonly benchmarkRequests: number;
  readonly bareRequests: number;
  readonly probeCycles: number;
  readonly pacedTargets: number;
  readonly pacedSeconds: number;
  readonly logPath?: string;
}

/** A latency row in milliseconds. */
export interface LatencyRow {
  readonly p50: number;
  readonly p99: number;
  readonly n: number;
}

export async function accuracyPhase(options: AccuracyOptions) {
  return withServers(1, async ([server]) => {
    const port = server!.port;
    progress(`accuracy: redis-benchmark -t ping -c 1 -P 1 -n ${options.benchmarkRequests}`);
    const { stdout } = await run('redis-benchmark', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-t',
      'ping',
      '-c',
      '1',
      '-P',
      '1',
      '-n',
      String(options.benchmarkRequests),
      '--csv',
      '--precision',
      '3',
    ]);
    const redisBenchmark: Record<string, LatencyRow> = {};
    for (const line of stdout.trim().split('\n').slice(1)) {
      const cells = line.split(',').map((cell) => cell.replaceAll('"', ''));
      redisBenchmark[cells[0]!] = { p50: Number(cells[4]), p99: Number(cells[6]), n: options.benchmarkRequests };
    }

    progress(`accuracy: bare ioredis PING loop, ${options.bareRequests} requests`);
    const client = await bareClient(port);
    for (let index = 0; index < 1000; index++) await client.ping();
    const barePing: number[] = [];
    for (let index = 0; index < options.bareRequests; index++) {
      const started = performance.now();
      await client.ping();
      barePing.push(performance.now() - started);
    }
    const bareCyclePing: number[] = [];
    for (let index = 0; index < 200; index++) await bareCycle(client, 'bare:acc');
    for (let index = 0; index < options.probeCycles; index++) await bareCycle(client, 'bare:acc', bareCyclePing);
    client.disconnect();

    progress(`accuracy: the real probe (createTargetProbe.runCycle) back to back, ${options.probeCycles} cycles`);
    const [target] = benchConfig({ count: 1, ports: [port], schedule: '* * * * * *', prefix: 'acc' }).targets;
    const probe = createTargetProbe(target!, { clock: systemClock, instanceId: 'bench', randomValue: randomUUID, redactor: createSecretRedactor() });
    for (let index = 0; index < 200; index++) await probe.runCycle('manual');
    const probePing: number[] = [];
    let probeFailures = 0;
    for (let index = 0; index < options.probeCycles; index++) {
      const result = await probe.runCycle('manual');
      if (!result.success) probeFailures++;
      const ping = result.steps.find((timing) => timing.step === 'ping');
      if (ping) probePing.push(ping.durationMs);
    }
    await probe.close();

    progress(`accuracy: daemon with ${options.pacedTargets} targets every second for ${options.pacedSeconds} s`);
    const harness = await startDaemonHarness({
      config: benchConfig({ count: options.pacedTargets, ports: [port], schedule: '* * * * * *' }),
      ...(options.logPath ? { logPath: options.logPath } : {}),
    });
    await sleep(2_000);
    const fromIndex = harness.cycles.length;
    await sleep(options.pacedSeconds * 1000);
    const daemonCycles = harness.cycles.slice(fromIndex);
    const histogram = await histogramQuantiles(harness, 'ping');
    await harness.stop();

    progress(`accuracy: bare ioredis paced like the daemon, ${options.pacedTargets} connections for ${options.pacedSeconds} s`);
    const clients = await Promise.all(
      Array.from({ length: options.pacedTargets }, async (_, index) => ({ name: `t-${index}`, client: await bareClient(port) })),
    );
    const pacedPing: number[] = [];
    const loop = pacedBareLoop(clients, 1000, pacedPing);
    await sleep(2_000);
    pacedPing.length = 0;
    await sleep(options.pacedSeconds * 1000);
    loop.stop();
    await sleep(50);
    for (const { client: each } of clients) each.disconnect();

    const row = (summary: Summary): LatencyRow => ({ p50: summary.p50, p99: summary.p99, n: summary.n });
    return {
      redisBenchmark,
      bareLoop: row(summarize(barePing)),
      bareCycleLoop: row(summarize(bareCyclePing)),
      probeLoop: { ...row(summarize(probePing)), failures: probeFailures },
      barePaced: { ...row(summarize(pacedPing)), errors: loop.errors },
      daemonPaced: { ...row(summarize(pingOf(daemonCycles))), failures: daemonCycles.filter((cycle) => !cycle.ok).length },
      daemonHistogram: histogram,
    };
  });
}

/** What Prometheus' histogram_quantile would answer for a step over every target (ms). */
async function histogramQuantiles(harness: DaemonHarness, step: string): Promise<{ p50: number; p99: number; n: number } | undefined> {
  const text = await harness.daemon.metrics.registry.metrics();
  const buckets = new Map<number, number>();
  // Bucket lines of this step, summed over targets (as sum by (le) would).
  const line = /^redis_probe_step_duration_seconds_bucket\{le="([^"]+)",(.*)\} (\S+)$/gm;
  for (const [, bound = '', labels = '', value = ''] of text.matchAll(line)) {
    if (!labels.split(',').includes(`step="${step}"`)) continue;
    const le = bound === '+Inf' ? Infinity : Number(bound);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(value));
  }
  if (buckets.size === 0) return undefined;
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  const quantile = (q: number): number => {
    const rank = q * total;
    let lowerBound = 0;
    let lowerCount = 0;
    for (const [le, count] of sorted) {
      if (count >= rank) {
        if (le === Infinity) return lowerBound * 1000;
        return (lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(1, count - lowerCount)) * 1000;
      }
      lowerBound = le;
      lowerCount = count;
    }
    return Number.NaN;
  };
  return { p50: quantile(0.5), p99: quantile(0.99), n: total };
}

// ---------------------------------------------------------------- 2. cost per cycle

export interface CostOptions {
  readonly mode: 'daemon' | 'bare';
  readonly targets: number;
  /**
   * Epoch ms of the first measurement window. The orchestrator starts both modes together and gives them
   * the same windows, so whatever else the machine does in a window lands on both.
   */
  readonly measureFromMs: number;
  readonly windowSeconds: number;
  readonly windows: number;
  readonly logPath?: string;
}

/** What one mode spent in one measurement window. */
export interface CostWindow {
  readonly cycles: number;
  readonly cpuUs: number;
  readonly systemUs: number;
  readonly gcPauseUs: number;
}

export async function costPhase(options: CostOptions) {
  return withServers(1, async ([server]) => {
    const port = server!.port;
    progress(`cost: ${options.mode}, ${options.targets} targets every second, ${options.windows} windows of ${options.windowSeconds} s`);
    let cycles: () => number;
    let errors: () => number;
    let stop: () => Promise<void>;
    if (options.mode === 'daemon') {
      const harness = await startDaemonHarness({
        config: benchConfig({ count: options.targets, ports: [port], schedule: '* * * * * *' }),
        ...(options.logPath ? { logPath: options.logPath } : {}),
        countOnly: true,
      });
      cycles = () => harness.counts.started;
      errors = () => harness.counts.failed;
      stop = () => harness.stop();
    } else {
      const clients = await Promise.all(Array.from({ length: options.targets }, async (_, index) => ({ name: `t-${index}`, client: await bareClient(port) })));
      const loop = pacedBareLoop(clients, 1000);
      cycles = () => loop.cycles;
      errors = () => loop.errors;
      stop = async () => {
        loop.stop();
        await sleep(50);
        for (const { client } of clients) client.disconnect();
      };
    }
    let gcPauseMs = 0;
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcPauseMs += entry.duration;
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    const snapshot = () => ({ usage: process.cpuUsage(), cycles: cycles(), gcPauseMs });
    const windows: CostWindow[] = [];
    await sleep(options.measureFromMs - Date.now());
    let from = snapshot();
    for (let index = 1; index <= options.windows; index++) {
      await sleep(options.measureFromMs + index * options.windowSeconds * 1000 - Date.now());
      const to = snapshot();
      const usage = process.cpuUsage(from.usage);
      windows.push({
        cycles: to.cycles - from.cycles,
        cpuUs: usage.user + usage.system,
        systemUs: usage.system,
        gcPauseUs: (to.gcPauseMs - from.gcPauseMs) * 1000,
      });
      from = to;
    }
    gcObserver.disconnect();
    const errorCount = errors();
    const clientListBytes = (await server!.cli('CLIENT', 'LIST')).length;
    await stop();
    return { mode: options.mode, targets: options.targets, windowSeconds: options.windowSeconds, windows, errors: errorCount, clientListBytes };
  });
}

// ---------------------------------------------------------------- 3/4. scale and burst

export interface ScaleOptions {
  readonly label: string;
  readonly servers: number;
  readonly targets: number;
  readonly schedule: string;
  readonly intervalMs: number;
  readonly seconds: number;
  readonly stagger: boolean;
  /** The config's `metrics:` options (the series layout). */
  readonly stepHistograms: boolean;
  readonly preinitialiseFailures: boolean;
  /** registry.metrics() calls after the run, for the render time. */
  readonly renders: number;
  /** GET /metrics from a separate curl process this often during the run, like Prometheus (0: never). */
  readonly scrapeIntervalS: number;
  readonly logPath?: string;
}

interface Scrape {
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  /** This process's CPU time while the scrape was served (cycles interleaved are counted too). */
  readonly cpuUs: number;
}

/** One scrape by an outside client, so receiving the text costs this process nothing. */
async function curlScrape(url: string): Promise<Scrape> {
  const cpu = cpuMicros();
  const startMs = performance.now();
  const { stdout } = await run('curl', ['-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{size_download}', url]);
  return { startMs, endMs: performance.now(), bytes: Number(stdout), cpuUs: cpuMicros() - cpu };
}

export async function scalePhase(options: ScaleOptions) {
  return withServers(options.servers, async (servers) => {
    const ports = servers.map((server) => server.port);
    progress(
      `${options.label}: ${options.targets} targets over ${options.servers} servers on "${options.schedule}" for ${options.seconds} s (stagger ${options.stagger ? 'on' : 'off'}, step histograms ${options.stepHistograms ? 'on' : 'off'}, failure series pre-initialised ${options.preinitialiseFailures ? 'yes' : 'no'}, scrape every ${options.scrapeIntervalS || '-'} s)`,
    );
    const monitor = startResourceMonitor();
    const rssBefore = process.memoryUsage.rss();
    const harness = await startDaemonHarness({
      config: benchConfig({
        count: options.targets,
        ports,
        schedule: options.schedule,
        metrics: { stepHistograms: options.stepHistograms, preinitialiseFailures: options.preinitialiseFailures },
      }),
      stagger: options.stagger,
      ...(options.logPath ? { logPath: options.logPath } : {}),
    });
    const url = `http://127.0.0.1:${harness.daemon.httpPort}/metrics`;
    const started = performance.now();
    const cpuStart = cpuMicros();
    const end = started + options.seconds * 1000;
    // Cron ticks on whole multiples of the interval: the first one connects everything, so the
    // steady window starts one interval after it.
    const firstTickWall = Math.ceil((Date.now() + 1) / options.intervalMs) * options.intervalMs;
    const steadyFrom = started + (firstTickWall - Date.now()) + options.intervalMs;

    const scrapes: Scrape[] = [];
    let scraping = options.scrapeIntervalS > 0;
    const scrapeLoop = (async () => {
      // Prometheus scrapes at a fixed phase of its own; none may still run when the window closes.
      for (let next = started + 7_000; scraping && next < end - 5_000; next += options.scrapeIntervalS * 1000) {
        await sleep(next - performance.now());
        if (scraping) scrapes.push(await curlScrape(url));
      }
    })();

    let steadyCpu: number | undefined;
    let steadyWall = Number.POSITIVE_INFINITY;
    if (steadyFrom < end - 1000) {
      await sleep(steadyFrom - performance.now());
      steadyCpu = cpuMicros();
      steadyWall = performance.now();
      monitor.resetLoop();
    }
    await sleep(Math.max(0, end - performance.now()));
    const cpuEnd = cpuMicros();
    const wallEnd = performance.now();
    scraping = false;
    const loopDelay = monitor.loopDelayMs();
    const rssRunMax = monitor.maxRssBytes;
    const memory = process.memoryUsage();
    const heapUsed = memory.heapUsed;
    // Everything below is read inside the run window; the daemon keeps running while we render.
    const runCycles = harness.cycles.filter((cycle) => cycle.atMs <= wallEnd);
    const runLateness = harness.lateness.filter((sample) => sample.atMs <= wallEnd);
    const steadyCycles = runCycles.filter((cycle) => cycle.atMs >= steadyWall);
    const steadyLateness = runLateness.filter((sample) => sample.atMs >= steadyWall);
    const steadyScrapes = scrapes.filter((scrape) => scrape.startMs >= steadyWall);
    const scrapeCpuUs = steadyScrapes.reduce((sum, scrape) => sum + scrape.cpuUs, 0);
    // Runs planned while /metrics was being rendered wait for it: the scrape's share of lateness.
    const plannedDuringScrape = (sample: { atMs: number; latenessMs: number }) =>
      scrapes.some((scrape) => sample.atMs - sample.latenessMs >= scrape.startMs && sample.atMs - sample.latenessMs <= scrape.endMs);
    const failuresByReason: Record<string, number> = {};
    for (const cycle of runCycles) if (!cycle.ok) failuresByReason[cycle.reason ?? '?'] = (failuresByReason[cycle.reason ?? '?'] ?? 0) + 1;
    // A render blocks the event loop: a cycle in flight meanwhile can time out with its reply already in.
    const failedDuringScrape = runCycles.filter(
      (cycle) => !cycle.ok && scrapes.some((scrape) => cycle.atMs >= scrape.startMs && cycle.atMs - cycle.durationMs <= scrape.endMs),
    ).length;
    const targetsWithCycle = new Set(runCycles.map((cycle) => cycle.target)).size;
    await scrapeLoop;

    progress(`${options.label}: rendering /metrics ${options.renders}×`);
    const renders: RenderTiming[] = [];
    for (let index = 0; index < options.renders; index++) renders.push(await timeRender(() => harness.daemon.metrics.registry.chunks()));
    const series = await countRenderedSeries(harness.daemon.metrics.registry.chunks());
    const bytes = renders.at(-1)?.bytes ?? 0;
    const rssAfterRender = process.memoryUsage.rss();
    // What the daemon keeps between cycles (run with --expose-gc): state, not garbage.
    const retainedHeapMb = heapAfterGc() / 2 ** 20;
    const finalScrape = await curlScrape(url);
    await harness.stop();
    monitor.stop();
    const steadyWallMs = wallEnd - steadyWall;
    return {
      label: options.label,
      targets: options.targets,
      servers: options.servers,
      schedule: options.schedule,
      seconds: options.seconds,
      stagger: options.stagger,
      stepHistograms: options.stepHistograms,
      preinitialiseFailures: options.preinitialiseFailures,
      scrapeIntervalS: options.scrapeIntervalS,
      createDaemonMs: harness.createMs,
      targetsWithCycle,
      cycles: runCycles.length,
      failedCycles: runCycles.filter((cycle) => !cycle.ok).length,
      failuresByReason,
      failedDuringScrape,
      skipped: harness.skipped.filter((atMs) => atMs <= wallEnd).length,
      cpuPercentOverall: ((cpuEnd - cpuStart) / 1000 / (wallEnd - started)) * 100,
      cpuPercentSteady: steadyCpu !== undefined ? ((cpuEnd - steadyCpu) / 1000 / steadyWallMs) * 100 : undefined,
      cpuPercentSteadyWithoutScrapes: steadyCpu !== undefined ? ((cpuEnd - steadyCpu - scrapeCpuUs) / 1000 / steadyWallMs) * 100 : undefined,
      steadySeconds: steadyCpu !== undefined ? steadyWallMs / 1000 : 0,
      steadyCycles: steadyCycles.length,
      cpuUsPerSteadyCycle: steadyCpu !== undefined ? (cpuEnd - steadyCpu - scrapeCpuUs) / Math.max(1, steadyCycles.length) : undefined,
      scrapes: scrapes.length,
      scrapeMs: summarize(scrapes.map((scrape) => scrape.endMs - scrape.startMs)),
      scrapeCpuMs: summarize(scrapes.map((scrape) => scrape.cpuUs / 1000)),
      rssBeforeMb: rssBefore / 2 ** 20,
      rssMaxMb: rssRunMax / 2 ** 20,
      rssAfterRenderMb: rssAfterRender / 2 ** 20,
      heapUsedMb: heapUsed / 2 ** 20,
      retainedHeapMb,
      memoryAtEndMb: Object.fromEntries(Object.entries(memory).map(([key, value]) => [key, Math.round(value / 2 ** 20)])),
      latenessAll: summarize(runLateness.map((sample) => sample.latenessMs)),
      latenessSteady: summarize(steadyLateness.map((sample) => sample.latenessMs)),
      latenessSteadyOutsideScrapes: summarize(steadyLateness.filter((sample) => !plannedDuringScrape(sample)).map((sample) => sample.latenessMs)),
      loopDelaySteady: loopDelay,
      cycleDurationSteady: summarize(steadyCycles.filter((cycle) => cycle.ok).map((cycle) => cycle.durationMs)),
      pingSteady: summarize(pingOf(steadyCycles)),
      renderMs: summarize(renders.map((render) => render.wallMs)),
      renderCpuMs: summarize(renders.map((render) => render.cpuMs)),
      renderLongestBlockMs: summarize(renders.map((render) => render.longestBlockMs)),
      httpMetricsMs: finalScrape.endMs - finalScrape.startMs,
      metricsBytes: bytes,
      httpBytes: finalScrape.bytes,
      series: series.total,
      seriesByFamily: series.byFamily,
    };
  });
}

// ---------------------------------------------------------------- 3b. /metrics layouts

export interface RenderOptions {
  readonly targets: readonly number[];
  readonly renders: number;
}

/** The layouts the render phase compares: the config's metrics.detail, and standard without per-step latency. */
const RENDER_LAYOUTS = [
  { layout: 'standard (default)', metrics: { detail: 'standard' } },
  { layout: 'full', metrics: { detail: 'full' } },
  { layout: 'standard, stepHistograms: false', metrics: { detail: 'standard', stepHistograms: false } },
] as const;

/**
 * /metrics for the same targets under each series layout of the config's `metrics:` options, without
 * redis (one synthetic successful cycle per target materialises the histograms): series, size, and the
 * render as the daemon does it (in chunks, yielding between them), and the heap the series take. Then
 * the standard layout in plain prom-client, rendered by its registry.metrics() in one block
 * (bench/prom-client-twin.ts), to weigh the compact families and the chunked renderer against it.
 */
export async function renderPhase(options: RenderOptions) {
  const rows = [];
  for (const count of options.targets) {
    const targets = benchConfig({ count, ports: [6379], schedule: '*/10 * * * * *' }).targets;
    // A 10,000-target render takes seconds: one of each is enough there.
    const repeats = count > 2_000 ? 1 : options.renders;
    for (const { layout, metrics: settings } of RENDER_LAYOUTS) {
      progress(`render: ${count} targets, ${layout}`);
      const heapBefore = heapAfterGc();
      const metrics = createProbeMetrics({ version: 'bench', ...settings });
      for (const target of targets) {
        metrics.registerTarget(target, { authenticated: false }).record(syntheticHealthyCycle(target.name));
      }
      const stateMb = (heapAfterGc() - heapBefore) / 2 ** 20;
      const sliced: RenderTiming[] = [];
      for (let index = 0; index < repeats; index++) sliced.push(await timeRender(() => metrics.registry.chunks()));
      rows.push({ targets: count, layout, ...(await renderRow(sliced, () => metrics.registry.chunks())), stateMb });
    }
    progress(`render: ${count} targets, standard in plain prom-client`);
    const heapBefore = heapAfterGc();
    const twin = promClientTwin(targets);
    const stateMb = (heapAfterGc() - heapBefore) / 2 ** 20;
    const whole = async function* (): AsyncGenerator<string> {
      yield await twin.metrics();
    };
    const timings: RenderTiming[] = [];
    for (let index = 0; index < repeats; index++) timings.push(await timeRender(whole));
    rows.push({ targets: count, layout: 'standard, prom-client registry.metrics()', ...(await renderRow(timings, whole)), stateMb });
  }
  return { rows };
}

async function renderRow(timings: readonly RenderTiming[], chunks: () => AsyncIterable<string>) {
  return {
    series: (await countRenderedSeries(chunks())).total,
    bytes: timings.at(-1)?.bytes ?? 0,
    renderMs: summarize(timings.map((timing) => timing.wallMs)),
    renderCpuMs: summarize(timings.map((timing) => timing.cpuMs)),
    longestBlockMs: summarize(timings.map((timing) => timing.longestBlockMs)),
  };
}

/** Heap used after a full collection (the phases run with --expose-gc). */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------- 5. detection

export interface DetectionOptions {
  readonly repeats: number;
  readonly schedule: string;
  readonly paused: boolean;
  readonly logPath?: string;
}

export async function detectionPhase(options: DetectionOptions) {
  return withServers(1, async ([server]) => {
    const harness = await startDaemonHarness({
      config: benchConfig({ count: 1, ports: [server!.port], schedule: options.schedule, prefix: 'det' }),
      ...(options.logPath ? { logPath: options.logPath } : {}),
    });
    const name = 'det-0';
    const registry = harness.daemon.metrics.registry;
    const successLine = (value: 0 | 1) => `redis_probe_success{target="${name}"} ${value}\n`;
    const shows = async (value: 0 | 1) => (await registry.metrics()).includes(successLine(value));
    const up = async () => {
      await harness.daemon.scheduler.trigger(name, 'manual');
      await until(() => shows(1), 10_000, 'the target to be up', 20);
    };
    const measure = async (kind: 'killed' | 'paused') => {
      await up();
      // Land the failure at a different point of the 15 s interval each time.
      await sleep(500 + Math.random() * 2_500);
      const before = harness.cycles.length;
      const started = performance.now();
      if (kind === 'killed') await server!.kill();
      else server!.pause();
      await until(() => shows(0), 60_000, 'redis_probe_success 0', 5);
      const detectedMs = performance.now() - started;
      const failing = harness.cycles.slice(before).find((cycle) => !cycle.ok);
      if (kind === 'paused') server!.resume();
      await server!.restart();
      return { kind, detectedMs, trigger: failing?.trigger, reason: failing?.reason };
    };
    const samples = [];
    for (let index = 0; index < options.repeats; index++) {
      progress(`detection: kill -9 redis-server, run ${index + 1}/${options.repeats}`);
      samples.push(await measure('killed'));
    }
    if (options.paused) {
      progress('detection: SIGSTOP redis-server (no connection close; found by the next scheduled cycle timing out)');
      samples.push(await measure('paused'));
    }
    await harness.stop();
    return { schedule: options.schedule, samples };
  });
}

export interface FootprintOptions {
  readonly label: string;
  readonly targets: number;
  readonly servers: number;
  readonly schedule: string;
  readonly intervalMs: number;
  readonly seconds: number;
  /** Seconds from ready to the steady window at least: V8 is still optimising the cycle's code for about half a minute. */
  readonly warmupSeconds: number;
  readonly stepHistograms: boolean;
  readonly preinitialiseFailures: boolean;
  /**
   * `bin`: `node dist/bin.js run`, as `npm start`, `redis-probe run` and the image start the daemon (the
   * bin applies the memory settings). `cli`: `node dist/cli.js run`, Node's and glibc's defaults.
   */
  readonly start: 'bin' | 'cli';
  readonly scrapeIntervalS: number;
}

/** CPU ticks (user + system) and memory of another process, from /proc. */
function readProc(pid: number): { ticks: number; rssMb: number; peakRssMb: number; anonMb: number; fileMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return {
    ticks: Number(fields[11]) + Number(fields[12]),
    rssMb: kb('VmRSS') / 1024,
    peakRssMb: kb('VmHWM') / 1024,
    anonMb: kb('RssAnon') / 1024,
    fileMb: kb('RssFile') / 1024,
  };
}

/** Cumulative bucket counts of a histogram summed over its series: le → count. */
function histogramBuckets(text: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/** The upper bound of the bucket that holds quantile q of the observations between two reads (bucket resolution). */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const bound of bounds) if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= q * total) return bound;
  return Number.NaN;
}

/** Sum of every series of a counter or gauge in exposition text. */
function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** The command line and memory environment of a running process, as the kernel holds them. */
function commandOf(pid: number): { cmdline: string[]; memoryEnv: Record<string, string> } {
  const read = (file: string) =>
    readFileSync(`/proc/${pid}/${file}`, 'utf8')
      .split('\0')
      .filter((entry) => entry !== '');
  const memoryEnv = Object.fromEntries(
    read('environ')
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const)
      .filter(([name]) => name in MEMORY_ENV || name === 'NODE_OPTIONS'),
  );
  return { cmdline: read('cmdline'), memoryEnv };
}

/**
 * The production process started as a user starts it: `node dist/bin.js run` (compiled JavaScript, no
 * benchmark code in it), in an environment without memory settings of its own, against loopback
 * servers, scraped by curl like Prometheus. The bin execs the daemon in the same process, so the
 * pid measured is the daemon's. CPU and RSS come from /proc, lateness from the daemon's own
 * redis_probe_scheduler_lateness_seconds.
 */
export async function footprintPhase(options: FootprintOptions) {
  return withServers(options.servers, async (servers) => {
    const script = join(dirname(CLI_PATH), options.start === 'bin' ? 'bin.js' : 'cli.js');
    progress(
      `${options.label}: node dist/${options.start}.js run, ${options.targets} targets over ${options.servers} servers on "${options.schedule}" for ${options.seconds} s`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'redis-probe-bench-'));
    const httpPort = await freePort();
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      JSON.stringify(
        benchConfigFile({
          count: options.targets,
          ports: servers.map((server) => server.port),
          schedule: options.schedule,
          metrics: { stepHistograms: options.stepHistograms, preinitialiseFailures: options.preinitialiseFailures },
          httpPort,
        }),
      ),
    );
    // A user's environment: none of the memory settings this benchmark process itself runs with.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !(name in MEMORY_ENV)));
    const child = spawn(process.execPath, [script, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const pid = child.pid!;
    const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
    const url = `http://127.0.0.1:${httpPort}`;
    const scrape = async (): Promise<{ text: string; ms: number }> => {
      const started = performance.now();
      const { stdout } = await run('curl', ['-sS', '--max-time', '60', `${url}/metrics`], { maxBuffer: 256 * 2 ** 20 });
      return { text: stdout, ms: performance.now() - started };
    };
    try {
      const startedAt = performance.now();
      await until(
        async () => (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}/readyz`]).catch(() => ({ stdout: '' }))).stdout === '200',
        60_000,
        'the daemon ready',
      );
      const readyMs = performance.now() - startedAt;
      const idle = readProc(pid);
      // What is measured is what ran: the bin has exec'd the daemon with its settings in this pid.
      const command = commandOf(pid);
      if (!command.cmdline.some((arg) => arg.endsWith('cli.js')))
        throw new Error(`${options.label}: pid ${pid} runs ${command.cmdline.join(' ')}, not the daemon`);
      // Connects happen at the first tick; the steady window starts one interval after it, and after the warm-up.
      const afterFirstInterval = Math.ceil((Date.now() + 1) / options.intervalMs) * options.intervalMs + options.intervalMs + 500;
      await sleep(Math.max(afterFirstInterval, Date.now() + options.warmupSeconds * 1000) - Date.now());
      const first = await scrape();
      const begin = { at: performance.now(), proc: readProc(pid), lateness: histogramBuckets(first.text, 'redis_probe_scheduler_lateness_seconds') };
      const scrapeMs: number[] = [];
      const rssMb: number[] = [];
      let text = first.text;
      const end = begin.at + options.seconds * 1000;
      let nextScrape = begin.at + options.scrapeIntervalS * 1000;
      while (performance.now() < end) {
        await sleep(Math.min(1_000, end - performance.now()));
        rssMb.push(readProc(pid).rssMb);
        if (performance.now() >= nextScrape && performance.now() < end) {
          const result = await scrape();
          scrapeMs.push(result.ms);
          text = result.text;
          nextScrape += options.scrapeIntervalS * 1000;
        }
      }
      const finish = { at: performance.now(), proc: readProc(pid) };
      const last = await scrape();
      text = last.text;
      const cpuPercent = (100 * (finish.proc.ticks - begin.proc.ticks)) / ticksPerSecond / ((finish.at - begin.at) / 1000);
      const lateness = histogramBuckets(text, 'redis_probe_scheduler_lateness_seconds');
      return {
        ...options,
        // node's arguments, with the checkout's and the temporary directory's paths left out.
        command: command.cmdline.slice(1).map((arg) => (arg === configPath ? 'config.yaml' : arg.replace(/^\/.*\/dist\//, 'dist/'))),
        memoryEnv: command.memoryEnv,
        readyMs,
        idleRssMb: idle.rssMb,
        cpuPercentSteady: cpuPercent,
        rssMb: summarize(rssMb),
        peakRssMb: finish.proc.peakRssMb,
        // RSS = anonymous memory (heap, buffers, malloc) + file pages (the node binary's code, shared).
        anonRssMb: finish.proc.anonMb,
        fileRssMb: finish.proc.fileMb,
        heapUsedMb: sumOf(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        heapTotalMb: sumOf(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        cycles: sumOf(text, 'redis_probe_cycles_total'),
        failures: sumOf(text, 'redis_probe_cycle_failures_total'),
        successNow: sumOf(text, 'redis_probe_success'),
        latenessP99SteadyMs: bucketQuantile(begin.lateness, lateness, 0.99) * 1000,
        scrapeMs: summarize(scrapeMs),
        lastScrapeMs: last.ms,
        metricsBytes: text.length,
      };
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) progress(`${options.label}: the daemon exited with ${code}: ${stderr.slice(-500)}`);
    }
  });
}

export interface IdleOptions {
  readonly seconds: number;
}

/** CPU of a daemon with nothing to do (one target on a yearly schedule): the cost of its timers and monitors. */
export async function idlePhase(options: IdleOptions) {
  const harness = await startDaemonHarness({ config: benchConfig({ count: 1, ports: [1], schedule: '0 0 0 1 1 *' }) });
  await sleep(2_000);
  const cpu = cpuMicros();
  const started = performance.now();
  await sleep(options.seconds * 1000);
  const cpuMsPerSecond = (cpuMicros() - cpu) / (performance.now() - started);
  await harness.stop();
  return { seconds: options.seconds, cpuMsPerSecond };
}

export type PhaseName = 'accuracy' | 'cost' | 'scale' | 'render' | 'scrape' | 'detection' | 'footprint' | 'idle';
