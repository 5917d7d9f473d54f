/**
 * `npm run bench [-- --quick] [-- --only=accuracy,cost,...] [-- --profile]`
 *
 * Runs each phase in a child process of its own (clean CPU and RSS figures), each with its own
 * loopback redis-servers, then prints one table and writes bench/results/<timestamp>.json and a
 * Markdown page of the same table beside it (bench/summary.ts).
 * Every duration and size is a flag; see FLAGS below.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AccuracyOptions, CostOptions, DetectionOptions, FootprintOptions, IdleOptions, PhaseName, RenderOptions, ScaleOptions } from './phases.ts';
import { MEMORY_ENV, MEMORY_NODE_FLAGS } from '../src/commands/memory-settings.ts';
import type { ScrapeOptions, ScrapeRow } from './scrape.ts';
import type { Summary } from './support.ts';
import { progress } from './support.ts';
import { markdownSummary } from './summary.ts';

const FLAGS = {
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  profile: { type: 'boolean', default: false },
  'accuracy-requests': { type: 'string' },
  'accuracy-cycles': { type: 'string' },
  'accuracy-targets': { type: 'string' },
  'accuracy-seconds': { type: 'string' },
  'idle-seconds': { type: 'string' },
  'cost-targets': { type: 'string' },
  'cost-seconds': { type: 'string' },
  'cost-warmup': { type: 'string' },
  'cost-windows': { type: 'string' },
  'node-options': { type: 'string' },
  'scale-targets': { type: 'string' },
  'scale-servers': { type: 'string' },
  'scale-schedule': { type: 'string' },
  'scale-seconds': { type: 'string' },
  'burst-seconds': { type: 'string' },
  'scrape-interval': { type: 'string' },
  'big-targets': { type: 'string' },
  'big-schedule': { type: 'string' },
  'big-seconds': { type: 'string' },
  'big-servers': { type: 'string' },
  'big-scrape-interval': { type: 'string' },
  'footprint-seconds': { type: 'string' },
  'footprint-warmup': { type: 'string' },
  'footprint-big-seconds': { type: 'string' },
  'detection-repeats': { type: 'string' },
  'detection-paused': { type: 'boolean' },
  'scrape-targets': { type: 'string' },
  'scrape-count': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const SCALE_SECTIONS = ['scale', 'scale-lean', 'burst', 'big', 'big-lean'] as const;
type ScaleSection = (typeof SCALE_SECTIONS)[number];
const FOOTPRINT_SECTIONS = ['footprint', 'footprint-lean', 'footprint-node-defaults', 'footprint-big', 'footprint-big-lean'] as const;
type FootprintSection = (typeof FOOTPRINT_SECTIONS)[number];
const ALL_PHASES = ['accuracy', 'idle', 'cost', ...SCALE_SECTIONS, 'render', 'scrape', ...FOOTPRINT_SECTIONS, 'detection'] as const;
type Section = (typeof ALL_PHASES)[number];

const { values: flags } = parseArgs({ options: FLAGS, args: process.argv.slice(2).filter((arg) => arg !== '--') });
if (flags.help) {
  console.log(
    `usage: npm run bench -- [--quick] [--only=${ALL_PHASES.join(',')}] [--profile]\n  sizes and durations: ${Object.keys(FLAGS)
      .filter((flag) => flag.includes('-'))
      .map((flag) => `--${flag}`)
      .join(' ')}`,
  );
  process.exit(0);
}
const quick = flags.quick;
const num = (flag: keyof typeof FLAGS, full: number, short: number): number => {
  const given = flags[flag];
  return typeof given === 'string' ? Number(given) : quick ? short : full;
};
const only = new Set<Section>(flags.only ? (flags.only.split(',') as Section[]) : ALL_PHASES);
for (const name of only) if (!ALL_PHASES.includes(name)) throw new Error(`--only: unknown phase ${name} (known: ${ALL_PHASES.join(', ')})`);

/** Seconds between ticks of a six-field cron expression like every-N-seconds (others: 60 s). */
function intervalOf(schedule: string): number {
  const match = /^\*\/(\d+) /.exec(schedule);
  if (match) return Number(match[1]) * 1000;
  return schedule.startsWith('* ') ? 1000 : 60_000;
}

const stamp = new Date()
  .toISOString()
  .replaceAll(':', '-')
  .replace(/\.\d+Z$/, 'Z');
const resultsDir = join(import.meta.dirname, 'results');
mkdirSync(resultsDir, { recursive: true });
const logPath = (name: string) => join(resultsDir, `${stamp}-${name}.log`);
const profileDir = join(resultsDir, `${stamp}-profiles`);

const scaleSchedule = flags['scale-schedule'] ?? (quick ? '*/5 * * * * *' : '*/10 * * * * *');
const bigSchedule = flags['big-schedule'] ?? '*/30 * * * * *';
const scaleBase = {
  servers: num('scale-servers', 4, 4),
  targets: num('scale-targets', 1000, 1000),
  schedule: scaleSchedule,
  intervalMs: intervalOf(scaleSchedule),
  stagger: true,
  // The config's defaults (metrics.detail standard): per-step latency, failure series from their first failure.
  stepHistograms: true,
  preinitialiseFailures: false,
  renders: 3,
  scrapeIntervalS: num('scrape-interval', 15, 15),
};
/** `metrics: { stepHistograms: false, preinitialiseFailures: false }`: the small layout for many targets. */
const LEAN = { stepHistograms: false, preinitialiseFailures: false } as const;
const bigBase = {
  ...scaleBase,
  targets: num('big-targets', 10_000, 0),
  // 250 clients per server as in the 1,000-target run: CLIENT LIST grows with a server's clients,
  // and 2,500 per server cost the 4 servers about a core on their own.
  servers: num('big-servers', 40, 40),
  scrapeIntervalS: num('big-scrape-interval', 30, 30),
  schedule: bigSchedule,
  intervalMs: intervalOf(bigSchedule),
  seconds: num('big-seconds', 90, 0),
  renders: 2,
};
const footprintBase = {
  servers: scaleBase.servers,
  targets: scaleBase.targets,
  schedule: scaleBase.schedule,
  intervalMs: scaleBase.intervalMs,
  seconds: num('footprint-seconds', 60, 30),
  warmupSeconds: num('footprint-warmup', 30, 10),
  stepHistograms: true,
  preinitialiseFailures: false,
  start: 'bin' as const,
  scrapeIntervalS: scaleBase.scrapeIntervalS,
};
const footprintBig = {
  ...footprintBase,
  targets: bigBase.targets,
  servers: bigBase.servers,
  schedule: bigBase.schedule,
  intervalMs: bigBase.intervalMs,
  seconds: num('footprint-big-seconds', 90, 0),
  scrapeIntervalS: bigBase.scrapeIntervalS,
};
const plan = {
  accuracy: {
    benchmarkRequests: num('accuracy-requests', 20_000, 5_000),
    bareRequests: num('accuracy-requests', 20_000, 5_000),
    probeCycles: num('accuracy-cycles', 5_000, 1_000),
    pacedTargets: num('accuracy-targets', 50, 10),
    pacedSeconds: num('accuracy-seconds', 12, 5),
    logPath: logPath('accuracy'),
  } satisfies AccuracyOptions,
  idle: { seconds: num('idle-seconds', 20, 10) } satisfies IdleOptions,
  cost: {
    targets: num('cost-targets', 100, 50),
    warmupSeconds: num('cost-warmup', 60, 10),
    windowSeconds: num('cost-seconds', 10, 5),
    windows: num('cost-windows', 6, 3),
  },
  scale: { ...scaleBase, label: 'scale', seconds: num('scale-seconds', 50, 17), logPath: logPath('scale') } satisfies ScaleOptions,
  'scale-lean': { ...scaleBase, ...LEAN, label: 'scale-lean', seconds: num('scale-seconds', 50, 17), logPath: logPath('scale-lean') } satisfies ScaleOptions,
  // Burst smoothing compares with the staggered `scale` run: same targets, same layout.
  burst: { ...scaleBase, label: 'burst', stagger: false, seconds: num('burst-seconds', 35, 13), logPath: logPath('burst') } satisfies ScaleOptions,
  big: { ...bigBase, label: 'big', logPath: logPath('big') } satisfies ScaleOptions,
  'big-lean': { ...bigBase, ...LEAN, label: 'big-lean', logPath: logPath('big-lean') } satisfies ScaleOptions,
  render: { targets: quick ? [1000] : [1000, 10_000], renders: quick ? 3 : 5 } satisfies RenderOptions,
  scrape: { targets: num('scrape-targets', 1_000, 1_000), scrapes: num('scrape-count', 20, 5) } satisfies ScrapeOptions,
  footprint: { ...footprintBase, label: 'footprint' } satisfies FootprintOptions,
  'footprint-lean': { ...footprintBase, ...LEAN, label: 'footprint-lean' } satisfies FootprintOptions,
  // What the bin's memory settings buy: the `footprint` run started as `node dist/cli.js run`, with Node's and glibc's defaults.
  'footprint-node-defaults': { ...footprintBase, start: 'cli', label: 'footprint-node-defaults' } satisfies FootprintOptions,
  'footprint-big': { ...footprintBig, label: 'footprint-big' } satisfies FootprintOptions,
  'footprint-big-lean': { ...footprintBig, ...LEAN, label: 'footprint-big-lean' } satisfies FootprintOptions,
  detection: {
    repeats: num('detection-repeats', 3, 1),
    schedule: '*/15 * * * * *',
    paused: flags['detection-paused'] ?? !quick,
    logPath: logPath('detection'),
  } satisfies DetectionOptions,
};

interface PhaseReply {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** 1-minute load average before and after: other work on the machine shows up here. */
  load?: readonly [number, number];
}

/** Runs one phase in a fresh Node process and resolves with its result (or its error). */
function runPhase(phase: PhaseName, options: object, name: string, timeoutMs: number): Promise<PhaseReply> {
  // Phase processes run with the memory settings the bin applies (its V8 flags unless --node-options says otherwise).
  const execArgv = [
    '--expose-gc',
    ...(flags['node-options']?.split(' ').filter((arg) => arg !== '') ?? MEMORY_NODE_FLAGS),
    ...(flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []),
  ];
  const child = spawn(process.execPath, [...execArgv, join(import.meta.dirname, 'phase.ts'), phase, JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...MEMORY_ENV, ...(flags['node-options'] !== undefined ? { NODE_OPTIONS: '' } : {}) },
  });
  const loadBefore = loadavg()[0]!;
  return new Promise((resolve) => {
    let reply: PhaseReply | undefined;
    const timer = setTimeout(() => {
      reply ??= { ok: false, error: `timed out after ${timeoutMs} ms` };
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (message: PhaseReply) => {
      reply = message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ ...(reply ?? { ok: false, error: `exited with ${signal ?? code} before answering` }), load: [loadBefore, loadavg()[0]!] });
    });
  });
}

const versionOf = (command: string, args: string[]): string => {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const machine = {
  cores: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  kernel: release(),
  node: process.version,
  redis: versionOf('redis-server', ['--version']),
  ulimitNofile: versionOf('sh', ['-c', 'ulimit -n']),
};

const results: Partial<Record<string, PhaseReply>> = {};
const wallStart = performance.now();
const budgetS = (seconds: number) => (seconds + 180) * 1000;
/** Time for a cost process to start and connect its targets before the warm-up is counted. */
const COST_SETUP_SECONDS = 5;
progress(`${quick ? 'quick' : 'full'} run; results in ${join('bench', 'results', `${stamp}.json`)}`);
if (only.has('accuracy')) results.accuracy = await runPhase('accuracy', plan.accuracy, 'accuracy', budgetS(2 * plan.accuracy.pacedSeconds + 60));
if (only.has('idle')) results.idle = await runPhase('idle', plan.idle, 'idle', budgetS(plan.idle.seconds));
if (only.has('cost')) {
  // Both modes run at once, each in its own process with its own redis-server, and are measured over the
  // same wall-clock windows: a burst of other work on the machine lands on both sides of a ratio.
  const { targets, warmupSeconds, windowSeconds, windows } = plan.cost;
  const measureFromMs = Date.now() + (COST_SETUP_SECONDS + warmupSeconds) * 1000;
  const budget = budgetS(COST_SETUP_SECONDS + warmupSeconds + windows * windowSeconds);
  const run = (mode: CostOptions['mode']) =>
    runPhase('cost', { mode, targets, measureFromMs, windowSeconds, windows, logPath: logPath(`cost-${mode}`) } satisfies CostOptions, `cost-${mode}`, budget);
  [results['cost-bare'], results['cost-daemon']] = await Promise.all([run('bare'), run('daemon')]);
}
for (const section of SCALE_SECTIONS) {
  const options = plan[section];
  if (only.has(section) && options.targets > 0 && options.seconds > 0)
    results[section] = await runPhase('scale', options, section, budgetS(options.seconds * 2));
}
if (only.has('render')) results.render = await runPhase('render', plan.render, 'render', budgetS(120));
if (only.has('scrape')) results.scrape = await runPhase('scrape', plan.scrape, 'scrape', budgetS(120));
if (FOOTPRINT_SECTIONS.some((section) => only.has(section))) {
  // The footprint runs dist/bin.js: build it from the sources being measured, as the image does.
  progress('footprint: npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
}
for (const section of FOOTPRINT_SECTIONS) {
  const options = plan[section];
  if (only.has(section) && options.targets > 0 && options.seconds > 0)
    results[section] = await runPhase('footprint', options, section, budgetS(options.seconds + (2 * options.intervalMs) / 1000 + 60));
}
if (only.has('detection')) results.detection = await runPhase('detection', plan.detection, 'detection', budgetS(30 * (plan.detection.repeats + 2)));
const wallSeconds = (performance.now() - wallStart) / 1000;
const jsonPath = join(resultsDir, `${stamp}.json`);
const saveJson = (extra: object) =>
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ date: new Date().toISOString(), mode: quick ? 'quick' : 'full', wallSeconds, machine, plan, results, ...extra }, null, 2)}\n`,
  );
// The raw figures first, so a failure while formatting loses nothing.
saveJson({});

// ------------------------------------------------------------------ report

type Row = readonly (string | number | undefined)[];
const lines: string[] = [];
const out = (line = '') => lines.push(line);
const fmt = (value: number | null | undefined, digits = 0): string =>
  value === undefined || value === null || Number.isNaN(value)
    ? '-'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const us = (ms: number | undefined) => fmt(ms === undefined ? undefined : ms * 1000);
function table(header: Row, rows: readonly Row[]): void {
  const all = [header, ...rows].map((row) => row.map((cell) => (cell === undefined ? '-' : String(cell))));
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]?.length ?? 0)));
  for (const [index, row] of all.entries()) {
    out(`  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`);
    if (index === 0) out(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  }
}
const goals: { goal: string; value: string; met: boolean | undefined }[] = [];
const goal = (name: string, value: number | undefined, limit: number, unit: string, digits = 0) =>
  goals.push({
    goal: `${name} ≤ ${fmt(limit, digits)}${unit}`,
    value: `${fmt(value, digits)}${unit}`,
    met: value === undefined || Number.isNaN(value) ? undefined : value <= limit,
  });
const failed = (name: string, reply: PhaseReply | undefined) => {
  if (reply && !reply.ok) out(`  ${name} FAILED: ${reply.error?.split('\n')[0]}`);
  return reply?.ok ? reply.result : undefined;
};

out(`redis-probe benchmark: ${quick ? 'quick' : 'full'} run, ${new Date().toISOString()}, ${fmt(wallSeconds)} s`);
out(
  `machine: ${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}; ${machine.redis.split(' sha=')[0]}`,
);

interface LatencyRow {
  p50: number;
  p99: number;
  n: number;
}
interface Accuracy {
  redisBenchmark: Record<string, LatencyRow>;
  bareLoop: LatencyRow;
  bareCycleLoop: LatencyRow;
  probeLoop: LatencyRow & { failures: number };
  barePaced: LatencyRow & { errors: number };
  daemonPaced: LatencyRow & { failures: number };
  daemonHistogram?: LatencyRow;
}
const accuracy = failed('accuracy', results.accuracy) as Accuracy | undefined;
if (accuracy) {
  const a = accuracy;
  const ratio = (row: LatencyRow, base: LatencyRow) => fmt(row.p50 / base.p50, 2);
  out();
  out(`1. Accuracy: PING round trip in µs (same redis-server, same run)`);
  const t = plan.accuracy.pacedTargets;
  table(
    ['source', 'p50', 'p99', 'samples', 'p50 ÷ reference', 'reference'],
    [
      ...Object.entries(a.redisBenchmark).map(([test, row]): Row => [
        `redis-benchmark -t ping -c 1 -P 1 (${test})`,
        us(row.p50),
        us(row.p99),
        row.n,
        ratio(row, a.bareLoop),
        'bare loop',
      ]),
      ['bare ioredis loop: PING back to back', us(a.bareLoop.p50), us(a.bareLoop.p99), a.bareLoop.n, '1.00', 'bare loop'],
      [
        'bare ioredis loop: PING,SET,GET,CLIENT LIST back to back',
        us(a.bareCycleLoop.p50),
        us(a.bareCycleLoop.p99),
        a.bareCycleLoop.n,
        ratio(a.bareCycleLoop, a.bareLoop),
        'bare loop',
      ],
      [
        'redis-probe runCycle() back to back (CycleResult ping)',
        us(a.probeLoop.p50),
        us(a.probeLoop.p99),
        a.probeLoop.n,
        ratio(a.probeLoop, a.bareCycleLoop),
        'bare 4-cmd loop',
      ],
      [
        `bare ioredis, ${t} connections × 1 cycle/s, staggered`,
        us(a.barePaced.p50),
        us(a.barePaced.p99),
        a.barePaced.n,
        ratio(a.barePaced, a.bareLoop),
        'bare loop',
      ],
      [
        `redis-probe daemon, ${t} targets × 1 cycle/s (CycleResult ping)`,
        us(a.daemonPaced.p50),
        us(a.daemonPaced.p99),
        a.daemonPaced.n,
        ratio(a.daemonPaced, a.barePaced),
        'bare paced',
      ],
      [`  same, vs the back-to-back bare loop`, '', '', '', ratio(a.daemonPaced, a.bareLoop), 'bare loop'],
      ['redis-probe histogram_quantile() over its buckets', us(a.daemonHistogram?.p50), us(a.daemonHistogram?.p99), a.daemonHistogram?.n, '', ''],
    ],
  );
  goal('accuracy: probe loop p50 ÷ bare 4-command loop p50', a.probeLoop.p50 / a.bareCycleLoop.p50, 1.3, '×', 2);
  goal('accuracy: daemon p50 ÷ bare paced loop p50', a.daemonPaced.p50 / a.barePaced.p50, 1.3, '×', 2);
  goal('accuracy: daemon p50 ÷ bare back-to-back PING loop p50', a.daemonPaced.p50 / a.bareLoop.p50, 1.3, '×', 2);
}

const idle = failed('idle', results.idle) as { seconds: number; cpuMsPerSecond: number } | undefined;
if (idle) {
  out();
  out(
    `2a. Idle: a daemon with nothing to do (one target on a yearly schedule) uses ${fmt(idle.cpuMsPerSecond, 2)} ms of CPU per second (${fmt(idle.seconds)} s): its timers and monitors`,
  );
}

interface CostWindowResult {
  cycles: number;
  cpuUs: number;
  systemUs: number;
  gcPauseUs: number;
}
interface Cost {
  mode: string;
  targets: number;
  windowSeconds: number;
  windows: CostWindowResult[];
  errors: number;
  clientListBytes: number;
}
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const bareCost = failed('cost bare', results['cost-bare']) as Cost | undefined;
const daemonCost = failed('cost daemon', results['cost-daemon']) as Cost | undefined;
if (bareCost && daemonCost) {
  const perCycle = (window: CostWindowResult, value: number) => value / Math.max(1, window.cycles);
  const ratios = daemonCost.windows.map((window, index) => perCycle(window, window.cpuUs) / perCycle(bareCost.windows[index]!, bareCost.windows[index]!.cpuUs));
  out();
  out(
    `2. Cost per cycle: CPU time of the process per PING,SET,GET,CLIENT LIST cycle; ${plan.cost.targets} targets on 1 redis-server each, 1 cycle/s per target`,
  );
  out(
    `  both loops run at once in processes of their own; after ${plan.cost.warmupSeconds} s of warm-up (connections open, hot code optimised) they are measured over the same ${daemonCost.windows.length} windows of ${daemonCost.windowSeconds} s`,
  );
  const row = (title: string, cost: Cost, ratio: string): Row => {
    const windowMedian = (pick: (window: CostWindowResult) => number) => median(cost.windows.map((window) => perCycle(window, pick(window))));
    return [
      title,
      fmt(windowMedian((window) => window.cpuUs)),
      cost.windows.map((window) => fmt(perCycle(window, window.cpuUs))).join(' / '),
      fmt(windowMedian((window) => window.systemUs)),
      fmt(windowMedian((window) => window.gcPauseUs)),
      cost.windows.reduce((sum, window) => sum + window.cycles, 0),
      cost.errors,
      ratio,
    ];
  };
  table(
    ['loop', 'CPU µs/cycle (median)', 'each window', 'of it in the kernel', 'GC pauses', 'cycles', 'errors', '÷ bare (median of windows)'],
    [
      row('bare ioredis loop, same pacing and stagger', bareCost, '1.00'),
      row(
        'redis-probe daemon (scheduler, probe, metrics, logs at warn)',
        daemonCost,
        `${fmt(median(ratios), 2)} (each: ${ratios.map((ratio) => fmt(ratio, 2)).join(' / ')})`,
      ),
      ['reference from the brief (not measured here): bare loop', '~460', '', '', '', '', '', ''],
      ['reference from the brief (not measured here): blackbox_exporter TCP PING probe', '~1,050', '', '', '', '', '', ''],
    ],
  );
  out(`  CLIENT LIST reply on the daemon's server: ${fmt(daemonCost.clientListBytes)} bytes (one ~290-byte line per connection); a cycle counts its lines`);
  goal('cost (daemon): CPU per cycle ÷ bare loop', median(ratios), 1.2, '×', 2);
  goal(
    "cost (daemon): CPU per cycle, below blackbox_exporter's ~1,050",
    median(daemonCost.windows.map((window) => perCycle(window, window.cpuUs))),
    1050,
    ' µs',
  );
}

interface Scale {
  label: string;
  targets: number;
  servers: number;
  schedule: string;
  seconds: number;
  stagger: boolean;
  stepHistograms: boolean;
  preinitialiseFailures: boolean;
  scrapeIntervalS: number;
  createDaemonMs: number;
  targetsWithCycle: number;
  cycles: number;
  failedCycles: number;
  failuresByReason: Record<string, number>;
  failedDuringScrape: number;
  skipped: number;
  cpuPercentOverall: number;
  cpuPercentSteady?: number;
  cpuPercentSteadyWithoutScrapes?: number;
  steadySeconds: number;
  steadyCycles: number;
  cpuUsPerSteadyCycle?: number;
  scrapes: number;
  scrapeMs: Summary;
  scrapeCpuMs: Summary;
  latenessSteadyOutsideScrapes: Summary;
  httpBytes: number;
  rssBeforeMb: number;
  rssMaxMb: number;
  rssAfterRenderMb: number;
  heapUsedMb: number;
  retainedHeapMb: number;
  latenessAll: Summary;
  latenessSteady: Summary;
  loopDelaySteady: { p50: number; p99: number; max: number };
  cycleDurationSteady: Summary;
  pingSteady: Summary;
  renderMs: Summary;
  renderCpuMs: Summary;
  renderLongestBlockMs: Summary;
  httpMetricsMs: number;
  metricsBytes: number;
  series: number;
  seriesByFamily: Record<string, number>;
}
const scales: (readonly [ScaleSection, Scale])[] = [];
for (const section of SCALE_SECTIONS) {
  const result = failed(section, results[section]) as Scale | undefined;
  if (result) scales.push([section, result]);
}
/** The series layout, in the config's words. */
const layoutOf = (s: { stepHistograms: boolean; preinitialiseFailures: boolean }): string =>
  s.stepHistograms && !s.preinitialiseFailures
    ? 'default'
    : !s.stepHistograms && !s.preinitialiseFailures
      ? 'lean'
      : `stepHistograms: ${s.stepHistograms}, preinitialiseFailures: ${s.preinitialiseFailures}`;
if (scales.length > 0) {
  out();
  out(
    `3. Scale (and 4. burst smoothing): one daemon in-process, loopback redis-servers, scraped by curl every ${scaleBase.scrapeIntervalS} s; "steady" = after the first interval (connects)`,
  );
  const fam = (s: Scale, name: string) => s.seriesByFamily[name] ?? 0;
  const probeSeries = (s: Scale) =>
    Object.entries(s.seriesByFamily)
      .filter(([name]) => name.startsWith('redis_probe_'))
      .reduce((sum, [, count]) => sum + count, 0);
  const columns = scales.map(([, s]) => `${fmt(s.targets)} × ${s.schedule.split(' ')[0]}, ${layoutOf(s)}${s.stagger ? '' : ', no stagger'}`);
  out(
    '  default = the config defaults; lean = metrics: { stepHistograms: false, preinitialiseFailures: false }. The daemon renders /metrics in chunks, yielding between them; renders are timed as GET /metrics consumes them, chunk by chunk',
  );
  const row = (name: string, cell: (s: Scale) => string | number | undefined): Row => [name, ...scales.map(([, s]) => cell(s))];
  table(
    ['', ...columns],
    [
      row('targets / redis-servers / run seconds', (s) => `${s.targets} / ${s.servers} / ${s.seconds}`),
      row('createDaemon (register targets) ms', (s) => fmt(s.createDaemonMs)),
      row('cycles / failed (of which in flight during a scrape) / skipped', (s) => `${s.cycles} / ${s.failedCycles} (${s.failedDuringScrape}) / ${s.skipped}`),
      row('targets that completed a cycle', (s) => s.targetsWithCycle),
      row('CPU % of one core, steady (cycles + scrapes)', (s) => fmt(s.cpuPercentSteady, 1)),
      row('  of which cycles alone (scrape CPU taken out)', (s) => fmt(s.cpuPercentSteadyWithoutScrapes, 1)),
      row('CPU % of one core, whole run (with connects)', (s) => fmt(s.cpuPercentOverall, 1)),
      row('CPU µs per steady cycle (scrapes taken out)', (s) => fmt(s.cpuUsPerSteadyCycle)),
      row(
        'scrape interval s / scrapes by curl during the run / ms p50 / max',
        (s) => `${s.scrapeIntervalS} / ` + `${s.scrapes} / ${fmt(s.scrapeMs.p50)} / ${fmt(s.scrapeMs.max)}`,
      ),
      row('CPU ms per scrape (p50)', (s) => fmt(s.scrapeCpuMs.p50)),
      row('RSS max MB during run, in-process (harness, TS loader)', (s) => fmt(s.rssMaxMb)),
      row('RSS MB after rendering /metrics, in-process', (s) => fmt(s.rssAfterRenderMb)),
      row('heap MB kept after a full GC (state)', (s) => fmt(s.retainedHeapMb)),
      row('lateness ms p50 / p99 / max, steady', (s) => `${fmt(s.latenessSteady.p50, 1)} / ${fmt(s.latenessSteady.p99, 1)} / ${fmt(s.latenessSteady.max, 1)}`),
      row(
        'lateness ms p99 / max, steady, runs not planned during a scrape',
        (s) => `${fmt(s.latenessSteadyOutsideScrapes.p99, 1)} / ${fmt(s.latenessSteadyOutsideScrapes.max, 1)}`,
      ),
      row('lateness ms p99 / max, whole run (with connects)', (s) => `${fmt(s.latenessAll.p99, 1)} / ${fmt(s.latenessAll.max, 1)}`),
      row('event-loop delay ms p99 / max, steady', (s) => `${fmt(s.loopDelaySteady.p99, 1)} / ${fmt(s.loopDelaySteady.max, 1)}`),
      row('cycle duration ms p50 / p99, steady', (s) => `${fmt(s.cycleDurationSteady.p50, 2)} / ${fmt(s.cycleDurationSteady.p99, 2)}`),
      row('PING step ms p50 / p99, steady', (s) => `${fmt(s.pingSteady.p50, 3)} / ${fmt(s.pingSteady.p99, 3)}`),
      row('render /metrics after the run: wall ms median / max', (s) => `${fmt(s.renderMs.p50)} / ${fmt(s.renderMs.max)}`),
      row('  CPU ms median', (s) => fmt(s.renderCpuMs?.p50)),
      row('  longest event-loop block ms (max over renders)', (s) => fmt(s.renderLongestBlockMs?.max, 1)),
      row('GET /metrics by curl after the run ms', (s) => fmt(s.httpMetricsMs)),
      row('/metrics size MB', (s) => fmt(s.metricsBytes / 2 ** 20, 1)),
      row('series (sample lines) total', (s) => fmt(s.series)),
      row('  redis_probe_* series per target', (s) => fmt(probeSeries(s) / s.targets, 1)),
      row(
        '  cycle_failures_total',
        (s) => `${fmt(fam(s, 'redis_probe_cycle_failures_total'))} (${fmt((100 * fam(s, 'redis_probe_cycle_failures_total')) / s.series)} %)`,
      ),
      row(
        '  step_duration_seconds histogram',
        (s) => `${fmt(fam(s, 'redis_probe_step_duration_seconds'))} (${fmt((100 * fam(s, 'redis_probe_step_duration_seconds')) / s.series)} %)`,
      ),
      row('  cycle_duration_seconds histogram', (s) => fmt(fam(s, 'redis_probe_cycle_duration_seconds'))),
      row('  everything else', (s) =>
        fmt(s.series - fam(s, 'redis_probe_cycle_failures_total') - fam(s, 'redis_probe_step_duration_seconds') - fam(s, 'redis_probe_cycle_duration_seconds')),
      ),
    ],
  );
  for (const [section, s] of scales) {
    if (s.failedCycles > 0) out(`  ${section}: failures by reason ${JSON.stringify(s.failuresByReason)}`);
  }
  const staggered = scales.find(([section]) => section === 'scale')?.[1];
  const burst = scales.find(([section]) => section === 'burst')?.[1];
  if (staggered && burst) {
    out();
    out(`4. Burst smoothing: ${fmt(burst.targets)} targets sharing "${burst.schedule}", steady state, same code, stagger on vs off`);
    out(
      "  Without stagger every run starts in the tick callback itself, so the scheduler's lateness stays ~0: the burst shows as queueing inside the cycle instead.",
    );
    const pair = (name: string, cell: (s: Scale) => string): Row => [name, cell(staggered), cell(burst)];
    table(
      ['', 'stagger on', 'stagger off'],
      [
        pair(
          'lateness ms p50 / p99 (runs not planned during a scrape)',
          (s) => `${fmt(s.latenessSteadyOutsideScrapes.p50, 1)} / ${fmt(s.latenessSteadyOutsideScrapes.p99, 1)}`,
        ),
        pair('cycle duration ms p50 / p99', (s) => `${fmt(s.cycleDurationSteady.p50, 2)} / ${fmt(s.cycleDurationSteady.p99, 2)}`),
        pair('PING step ms p50 / p99 (what the probe reports)', (s) => `${fmt(s.pingSteady.p50, 3)} / ${fmt(s.pingSteady.p99, 3)}`),
        pair('event-loop delay ms p99 / max', (s) => `${fmt(s.loopDelaySteady.p99, 1)} / ${fmt(s.loopDelaySteady.max, 1)}`),
        pair('CPU µs per cycle', (s) => fmt(s.cpuUsPerSteadyCycle)),
        pair('failed cycles', (s) => fmt(s.failedCycles)),
      ],
    );
  }
  for (const [section, s] of scales) {
    const tag = `scale ${fmt(s.targets)} ${layoutOf(s)}`;
    if (section === 'scale' || section === 'scale-lean') {
      // CPU and RSS goals are judged on the footprint runs: this process also holds the harness and the TypeScript loader.
      goal(`${tag}: lateness p99 (steady, scrapes included)`, s.latenessSteady.p99, 50, ' ms', 1);
      goal(`${tag}: lateness p99 (steady, runs not planned during a scrape)`, s.latenessSteadyOutsideScrapes.p99, 50, ' ms', 1);
      goal(`${tag}: event-loop delay max (steady, scrapes included)`, s.loopDelaySteady.max, 100, ' ms');
      goal(`${tag}: /metrics render CPU (median)`, s.renderCpuMs.p50, 100, ' ms');
      goal(`${tag}: longest event-loop block of a /metrics render`, s.renderLongestBlockMs.max, 100, ' ms');
    }
    if (section === 'big' || section === 'big-lean') {
      goal(`${tag}: failed cycles`, s.failedCycles, 0, '');
      goal(`${tag}: lateness p99 (steady, scrapes included)`, s.latenessSteady.p99, 250, ' ms', 1);
      goal(`${tag}: lateness p99 (steady, runs not planned during a scrape)`, s.latenessSteadyOutsideScrapes.p99, 250, ' ms', 1);
      goal(`${tag}: lateness p99 (whole run, with connects)`, s.latenessAll.p99, 250, ' ms', 1);
      goal(`${tag}: longest event-loop block of a /metrics render`, s.renderLongestBlockMs.max, 250, ' ms');
    }
  }
}

interface RenderRow {
  targets: number;
  layout: string;
  series: number;
  bytes: number;
  renderMs: Summary;
  renderCpuMs: Summary;
  longestBlockMs: Summary;
  stateMb: number;
}
const render = failed('render', results.render) as { rows: RenderRow[] } | undefined;
if (render) {
  out();
  out("3b. /metrics by layout (the config's metrics: options), no redis and no cycles running, one successful cycle recorded per target");
  out(
    `  render = the daemon's registry.metrics(), in chunks, yielding between them (the prom-client row: prom-client's registry.metrics() in one block); heap = what the metrics state keeps after a full GC. Medians of ${plan.render.renders} renders (1 at 10,000 targets)`,
  );
  table(
    ['targets', 'layout', 'series', 'series/target', 'MB', 'render wall ms', 'CPU ms', 'longest block ms', 'heap MB'],
    render.rows.map((row): Row => [
      fmt(row.targets),
      row.layout,
      fmt(row.series),
      fmt(row.series / row.targets),
      fmt(row.bytes / 2 ** 20, 1),
      fmt(row.renderMs.p50),
      fmt(row.renderCpuMs.p50),
      fmt(row.longestBlockMs.max, 1),
      fmt(row.stateMb, 1),
    ]),
  );
}

const scrape = failed('scrape', results.scrape) as { targets: number; rows: ScrapeRow[] } | undefined;
if (scrape) {
  out();
  out(
    `3c. GET /metrics at ${fmt(scrape.targets)} targets without and with Accept-Encoding: gzip (as Prometheus sends it), default layout, one successful cycle per target`,
  );
  out(
    `  wire = response bytes on the socket (headers, chunk framing, body); CPU = the process over the whole scrape (render, gzip, writes). Medians of ${plan.scrape.scrapes} scrapes`,
  );
  table(
    ['encoding', 'wire KB', 'CPU ms median', 'CPU ms max', 'wall ms median'],
    scrape.rows.map((row): Row => [row.encoding, fmt(row.wireBytes / 1024, 1), fmt(row.cpuMs.p50), fmt(row.cpuMs.max), fmt(row.wallMs.p50)]),
  );
}

interface Footprint {
  label: string;
  targets: number;
  servers: number;
  schedule: string;
  seconds: number;
  warmupSeconds: number;
  start: 'bin' | 'cli';
  command: string[];
  memoryEnv: Record<string, string>;
  stepHistograms: boolean;
  preinitialiseFailures: boolean;
  readyMs: number;
  idleRssMb: number;
  cpuPercentSteady: number;
  rssMb: Summary;
  peakRssMb: number;
  anonRssMb: number;
  fileRssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  cycles: number;
  failures: number;
  successNow: number;
  latenessP99SteadyMs: number;
  scrapeMs: Summary;
  lastScrapeMs: number;
  metricsBytes: number;
}
const footprints: (readonly [FootprintSection, Footprint])[] = [];
for (const section of FOOTPRINT_SECTIONS) {
  const result = failed(section, results[section]) as Footprint | undefined;
  if (result) footprints.push([section, result]);
}
if (footprints.length > 0) {
  out();
  out(
    `3c. Footprint of the production process started as a user starts it (npm start, redis-probe run, the image): node dist/bin.js run, scraped by curl; CPU and RSS from /proc, lateness from its own redis_probe_scheduler_lateness_seconds`,
  );
  out(
    `  the bin's memory settings (src/commands/memory-settings.ts): ${Object.entries(MEMORY_ENV)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')} node ${MEMORY_NODE_FLAGS.join(' ')}`,
  );
  const row = (name: string, cell: (f: Footprint) => string | number | undefined): Row => [name, ...footprints.map(([, f]) => cell(f))];
  table(
    ['', ...footprints.map(([, f]) => `${fmt(f.targets)} × ${f.schedule.split(' ')[0]}, ${layoutOf(f)}`)],
    [
      row('started as', (f) => `node dist/${f.start}.js run`),
      row('  the daemon ran (/proc)', (f) =>
        [
          ...Object.entries(f.memoryEnv).map(([name, value]) => `${name}=${value}`),
          'node',
          ...f.command.slice(0, f.command.findIndex((arg) => arg.endsWith('cli.js')) + 1),
        ].join(' '),
      ),
      row('redis-servers / warm-up / steady seconds', (f) => `${f.servers} / ${f.warmupSeconds} / ${f.seconds}`),
      row('start to /readyz ms', (f) => fmt(f.readyMs)),
      row('RSS MB when ready (no connection yet)', (f) => fmt(f.idleRssMb)),
      row('CPU % of one core, steady (scrapes included)', (f) => fmt(f.cpuPercentSteady, 1)),
      row('RSS MB p50 / max, steady (sampled each second)', (f) => `${fmt(f.rssMb.p50)} / ${fmt(f.rssMb.max)}`),
      row('peak RSS MB (VmHWM, whole run)', (f) => fmt(f.peakRssMb)),
      row('  RSS at the end: anonymous / file-backed (node binary) MB', (f) => `${fmt(f.anonRssMb)} / ${fmt(f.fileRssMb)}`),
      row('V8 heap used / total MB', (f) => `${fmt(f.heapUsedMb)} / ${fmt(f.heapTotalMb)}`),
      row('lateness p99 ms, steady (bucket upper bound)', (f) => fmt(f.latenessP99SteadyMs)),
      row('cycles / failed cycles (whole run) / targets green at the end', (f) => `${fmt(f.cycles)} / ${fmt(f.failures)} / ${fmt(f.successNow)}`),
      row('GET /metrics ms p50 / max (curl)', (f) => `${fmt(f.scrapeMs.p50)} / ${fmt(Math.max(f.scrapeMs.max, f.lastScrapeMs))}`),
      row('/metrics MB', (f) => fmt(f.metricsBytes / 2 ** 20, 1)),
    ],
  );
  for (const [section, f] of footprints) {
    const tag = `footprint ${fmt(f.targets)} ${layoutOf(f)}`;
    if (section === 'footprint-node-defaults') continue;
    if (f.targets <= 1_000) {
      goal(`${tag}: CPU % of one core (steady)`, f.cpuPercentSteady, 8, ' %', 1);
      goal(`${tag}: peak RSS`, f.peakRssMb, 150, ' MB');
      goal(`${tag}: lateness p99`, f.latenessP99SteadyMs, 50, ' ms');
      goal(`${tag}: GET /metrics (median)`, f.scrapeMs.p50, 100, ' ms');
    } else {
      goal(`${tag}: failed cycles`, f.failures, 0, '');
      goal(`${tag}: peak RSS`, f.peakRssMb, 600, ' MB');
      goal(`${tag}: lateness p99`, f.latenessP99SteadyMs, 250, ' ms');
    }
  }
}

interface Detection {
  schedule: string;
  samples: { kind: string; detectedMs: number; trigger?: string; reason?: string }[];
}
const detection = failed('detection', results.detection) as Detection | undefined;
if (detection) {
  out();
  out(`5. Detection on "${detection.schedule}": from the failure to redis_probe_success 0 in the registry's /metrics text`);
  table(
    ['failure', 'detected after ms', 'failing cycle trigger', 'reason'],
    detection.samples.map((sample): Row => [
      sample.kind === 'killed' ? 'kill -9 redis-server' : 'SIGSTOP redis-server (hangs, no close)',
      fmt(sample.detectedMs, 1),
      sample.trigger,
      sample.reason,
    ]),
  );
  const killed = detection.samples.filter((sample) => sample.kind === 'killed').map((sample) => sample.detectedMs);
  if (killed.length > 0) goal('detection after kill -9 (worst run)', Math.max(...killed), 1000, ' ms');
}

if (goals.length > 0) {
  out();
  out('Goals');
  table(
    ['goal', 'measured', ''],
    goals.map((entry): Row => [entry.goal, entry.value, entry.met === undefined ? 'n/a' : entry.met ? 'met' : 'MISSED']),
  );
}

const report = lines.join('\n');
console.log(report);
saveJson({ goals, table: report });
const markdownPath = join(resultsDir, `${stamp}.md`);
const load = Object.fromEntries(Object.entries(results).map(([phase, reply]) => [phase, reply?.load]));
const args = process.argv.slice(2).filter((arg) => arg !== '--');
writeFileSync(
  markdownPath,
  markdownSummary({ stamp, date: new Date().toISOString(), mode: quick ? 'quick' : 'full', args, wallSeconds, machine, load, table: report }),
);
progress(`wrote ${jsonPath} and ${markdownPath}${flags.profile ? `, and CPU profiles in ${profileDir}` : ''}`);
progress(`to publish this run: git add -f bench/results/${stamp}.json bench/results/${stamp}.md, and list it in bench/results/README.md`);
if (Object.values(results).some((reply) => reply && !reply.ok)) process.exitCode = 1;
