/**
 * `npm run soak [-- --minutes N] [-- --report-seconds S]` (or SOAK_MINUTES=N): runs the daemon for a bounded time
 * (default 10 minutes) against flapping faults and prints heap used (after a full GC), RSS, active handles and
 * event-loop delay at the start, every report interval and at the end. Not part of `npm test`.
 *
 * This process is the harness: loopback redis-servers, fault proxies and the flapping. The daemon runs in a child
 * process of its own (this file with --daemon-worker, under --expose-gc), so every figure is the daemon's alone.
 * Exit 1 if the daemon crashed, logged an error, failed the healthy control target or kept handles it should not.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { systemClock } from '../src/shared/clock.ts';
import type { DaemonConfig, TargetConfig } from '../src/config/types.ts';
import { createDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/logging/logger.ts';
import { cronTickSource } from '../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../src/shared/secrets.ts';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import type { FaultMode, FaultProxy } from '../test/support/fault-proxy.ts';
import { startRedis } from '../test/support/redis-server.ts';
import type { RedisServer } from '../test/support/redis-server.ts';

/** One line the daemon worker prints per report interval. */
interface SoakSample {
  readonly elapsedS: number;
  readonly heapUsedBytes: number;
  readonly rssBytes: number;
  readonly handles: number;
  readonly handleTypes: Record<string, number>;
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly cycles: number;
  readonly outcomes: Record<string, number>;
  readonly controlFailures: number;
  readonly errors: readonly string[];
}

const CONTROL = 'control';
const PASSWORD = 'soak-acl-password-Hd62';

// ---------------------------------------------------------------------------------------------------------------
// The daemon under test (child process).

async function daemonWorker(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the daemon worker needs --expose-gc');
  const config = JSON.parse(process.env.SOAK_CONFIG ?? '{}') as DaemonConfig;
  const reportMs = Number(process.env.SOAK_REPORT_MS ?? 60_000);
  const errors: string[] = [];
  process.on('unhandledRejection', (reason) => errors.push(`unhandledRejection: ${String(reason)}`));
  process.on('uncaughtException', (error) => errors.push(`uncaughtException: ${String(error)}`));

  const outcomes: Record<string, number> = {};
  let cycles = 0;
  let controlFailures = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk
        .toString()
        .split('\n')
        .filter((part) => part !== '')) {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.level === 'error') errors.push(String(line.message));
        if (line.message === 'probe cycle succeeded' || line.message === 'probe cycle failed') {
          cycles += 1;
          const outcome = line.message === 'probe cycle succeeded' ? 'ok' : `${String(line.step)}/${String(line.reason)}`;
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          if (line.target === CONTROL && outcome !== 'ok') controlFailures += 1;
        }
      }
      done();
    },
  });
  const redactor = createSecretRedactor();
  const logger = createLogger({ level: 'info', format: 'json', redactor, stream: sink });
  const daemon = createDaemon(config, {
    clock: systemClock,
    logger,
    redactor,
    tickSource: cronTickSource(),
    instanceId: 'soak',
    randomValue: () => crypto.randomUUID(),
    version: '0.0.0-soak',
    random: Math.random,
  });
  // The histogram records the time between samples, i.e. the resolution plus the delay; the delay is reported.
  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const delayMs = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
  delay.enable();
  const startedMs = performance.now();
  const sample = (): SoakSample => {
    for (let round = 0; round < 3; round++) gc();
    const types: Record<string, number> = {};
    for (const type of process.getActiveResourcesInfo()) types[type] = (types[type] ?? 0) + 1;
    const sampled: SoakSample = {
      elapsedS: Math.round((performance.now() - startedMs) / 1000),
      heapUsedBytes: process.memoryUsage().heapUsed,
      rssBytes: process.memoryUsage().rss,
      handles: Object.values(types).reduce((sum, count) => sum + count, 0),
      handleTypes: types,
      eventLoopDelayMs: { p50: delayMs(delay.percentile(50)), p99: delayMs(delay.percentile(99)), max: delayMs(delay.max) },
      cycles,
      outcomes: { ...outcomes },
      controlFailures,
      errors: [...errors],
    };
    delay.reset();
    return sampled;
  };
  await daemon.start();
  process.stdout.write(`${JSON.stringify(sample())}\n`);
  const timer = setInterval(() => process.stdout.write(`${JSON.stringify(sample())}\n`), reportMs);
  // SIGTERM ends the run; so does the harness going away (its end of stdin closes), so no daemon is orphaned.
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.stdin.on('end', () => resolve()).resume();
  });
  clearInterval(timer);
  await daemon.stop();
  // Closed sockets keep ioredis' 2 s disconnect timer; the last sample is taken once those ran out.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  delay.disable();
  process.stdin.destroy();
  process.stdout.write(`${JSON.stringify({ ...sample(), final: true })}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// The harness (this process): servers, proxies, the flapping, the report.

async function orchestrate(): Promise<number> {
  const { values } = parseArgs({
    options: { minutes: { type: 'string' }, 'report-seconds': { type: 'string' } },
    allowPositionals: false,
  });
  const minutes = Number(values.minutes ?? process.env.SOAK_MINUTES ?? 10);
  const reportSeconds = Number(values['report-seconds'] ?? process.env.SOAK_REPORT_SECONDS ?? 60);
  if (!(minutes > 0) || !(reportSeconds > 0)) {
    process.stderr.write('usage: npm run soak [-- --minutes N] [-- --report-seconds S]\n');
    return 2;
  }
  const log = (message: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

  const servers: RedisServer[] = [];
  const proxies: FaultProxy[] = [];
  const timers: NodeJS.Timeout[] = [];
  let admin: Redis | undefined;
  try {
    const [control, flaky, killed, sleepy, acl] = await Promise.all([
      startRedis(),
      startRedis(),
      startRedis(),
      startRedis(),
      startRedis({ aclUsers: [{ name: 'prober', password: PASSWORD, rules: '+@all ~* &*' }] }),
    ]);
    servers.push(control, flaky, killed, sleepy, acl);
    const modes = await startFaultProxy({ host: flaky.host, port: flaky.port });
    const onOff = await startFaultProxy({ host: flaky.host, port: flaky.port });
    proxies.push(modes, onOff);
    admin = new Redis({ ...acl.clientOptions(), protocol: 2, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);

    const target = (name: string, port: number, extra: Partial<TargetConfig> = {}): TargetConfig => ({
      name,
      host: '127.0.0.1',
      port,
      db: 0,
      labels: {},
      schedule: '* * * * * *',
      timeoutMs: 1_000,
      tls: { enabled: false, verify: true },
      key: { prefix: 'redis-probe:', ttlMs: 60_000 },
      steps: ['ping', 'set', 'get', 'client_list'],
      sla: { objective: 0.999 },
      ...extra,
    });
    const config: DaemonConfig = {
      server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 2_000 },
      log: { level: 'info', format: 'json', cycles: 'all' },
      metrics: { detail: 'standard', stepHistograms: true, preinitialiseFailures: false },
      credentials: [{ type: 'access-key', name: 'prober', username: 'prober', password: PASSWORD }],
      targets: [
        target(CONTROL, control.port),
        target('proxy-modes', modes.port),
        target('proxy-on-off', onOff.port),
        target('killed', killed.port),
        target('sleepy', sleepy.port),
        target('acl', acl.port, { credential: 'prober' }),
        target('refused', 1),
        target('dns', 6379, { host: 'redis-probe-soak.invalid' }),
      ],
    };

    // The flapping: every fault comes and goes on its own period, forever until the end.
    const cycleModes: FaultMode[] = ['pass', { latencyMs: 300 }, 'stall', 'pass', 'reset-mid-reply', 'garbage', 'pass', 'refuse', 'close-on-connect', 'pass'];
    let modeIndex = 0;
    const every = (ms: number, action: () => Promise<void>) => {
      timers.push(setInterval(() => void action().catch((error: unknown) => log(`flap failed: ${String(error)}`)), ms));
    };
    every(20_000, async () => {
      const mode = cycleModes[++modeIndex % cycleModes.length] ?? 'pass';
      await modes.setMode(mode);
      if (mode === 'refuse' || mode === 'close-on-connect') modes.resetAll();
    });
    let onOffStalled = false;
    every(15_000, async () => {
      onOffStalled = !onOffStalled;
      await onOff.setMode(onOffStalled ? 'stall' : 'pass');
    });
    every(45_000, async () => {
      await killed.kill();
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      await killed.restart();
    });
    every(30_000, async () => {
      sleepy.pause();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      sleepy.resume();
    });
    let rotated = false;
    every(60_000, async () => {
      rotated = !rotated;
      await admin?.call('ACL', 'SETUSER', 'prober', 'resetpass', `>${rotated ? 'soak-rotated-password-Jx83' : PASSWORD}`);
      await admin?.call('CLIENT', 'KILL', 'USER', 'prober');
    });

    log(
      `running the daemon for ${minutes} min against ${config.targets.length} targets (flapping: proxy modes 20 s, stall on/off 15 s, kill/restart 45 s, SIGSTOP 30 s, ACL password 60 s)`,
    );
    const worker = spawn(process.execPath, ['--expose-gc', import.meta.filename, '--daemon-worker'], {
      env: { ...process.env, SOAK_CONFIG: JSON.stringify(config), SOAK_REPORT_MS: String(reportSeconds * 1000) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const samples: (SoakSample & { final?: boolean })[] = [];
    const header = 'elapsed   heap used      rss  handles  loop delay p50 / p99 / max    cycles  control  outcomes';
    process.stdout.write(`${header}\n`);
    createInterface({ input: worker.stdout }).on('line', (line) => {
      const sampled = JSON.parse(line) as SoakSample & { final?: boolean };
      samples.push(sampled);
      process.stdout.write(`${formatSample(sampled)}\n`);
    });
    const exited = new Promise<number | null>((resolve) => worker.on('close', (code) => resolve(code)));
    await Promise.race([new Promise((resolve) => setTimeout(resolve, minutes * 60_000)), exited]);
    for (const timer of timers) clearInterval(timer);
    worker.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000))]);
    if (code === 'hung') worker.kill('SIGKILL');
    return verdict(samples, code, log);
  } finally {
    for (const timer of timers) clearInterval(timer);
    admin?.disconnect();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

function formatSample(sample: SoakSample & { final?: boolean }): string {
  const delay = sample.eventLoopDelayMs;
  const outcomes = Object.entries(sample.outcomes)
    .sort(([, a], [, b]) => b - a)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  return [
    (sample.final ? 'end' : `${sample.elapsedS}s`).padStart(7),
    mb(sample.heapUsedBytes).padStart(11),
    mb(sample.rssBytes).padStart(8),
    String(sample.handles).padStart(8),
    `${delay.p50.toFixed(1)} / ${delay.p99.toFixed(1)} / ${delay.max.toFixed(1)} ms`.padStart(30),
    String(sample.cycles).padStart(9),
    (sample.controlFailures === 0 ? 'ok' : `${sample.controlFailures} failed`).padStart(8),
    ` ${outcomes}`,
  ].join(' ');
}

function verdict(samples: readonly (SoakSample & { final?: boolean })[], code: number | null | 'hung', log: (message: string) => void): number {
  const first = samples[0];
  const running = samples.filter((sample) => !sample.final);
  const lastRunning = running.at(-1);
  const final = samples.find((sample) => sample.final);
  const problems: string[] = [];
  if (code !== 0) problems.push(`the daemon worker exited ${String(code)}`);
  if (!first || !lastRunning || !final) problems.push('the daemon worker reported too little');
  const errors = final?.errors ?? lastRunning?.errors ?? [];
  if (errors.length > 0) problems.push(`errors: ${errors.slice(0, 5).join('; ')}`);
  const controlFailures = (final ?? lastRunning)?.controlFailures ?? 0;
  if (controlFailures > 0) problems.push(`the healthy control target failed ${controlFailures} times`);
  if (final && first && final.handles > first.handles + 2) problems.push(`handles ${first.handles} at start, ${final.handles} after stop`);
  if (first && lastRunning) {
    log(
      `start → last report: heap ${mb(first.heapUsedBytes)} → ${mb(lastRunning.heapUsedBytes)}, rss ${mb(first.rssBytes)} → ${mb(lastRunning.rssBytes)}, ` +
        `handles ${first.handles} → ${lastRunning.handles}, loop delay p99 max over reports ${Math.max(...running.slice(1).map((sample) => sample.eventLoopDelayMs.p99), 0).toFixed(1)} ms`,
    );
  }
  if (final)
    log(
      `after stop: handles ${final.handles} (${Object.entries(final.handleTypes)
        .map(([type, count]) => `${type}=${count}`)
        .join(' ')})`,
    );
  for (const problem of problems) log(`PROBLEM: ${problem}`);
  log(problems.length === 0 ? 'soak passed' : 'soak FAILED');
  return problems.length === 0 ? 0 : 1;
}

if (process.argv.includes('--daemon-worker')) await daemonWorker();
else process.exitCode = await orchestrate();
