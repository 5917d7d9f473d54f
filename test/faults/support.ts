import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { systemClock } from '../../src/shared/clock.ts';
import type { Clock } from '../../src/shared/clock.ts';
import type { CredentialConfig, DaemonConfig, TargetConfig } from '../../src/config/types.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import type { Daemon } from '../../src/daemon/daemon.ts';
import type { FailureReason, Step } from '../../src/shared/probe-result.ts';
import { cronTickSource } from '../../src/daemon/scheduler.ts';
import type { TickSource } from '../../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import type { SecretRedactor } from '../../src/shared/secrets.ts';
import { capturingLogger } from '../support/capturing-logger.ts';
import type { CapturingLogger, LogEntry } from '../support/capturing-logger.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { waitFor } from '../support/wait.ts';

/** The instance id every in-process fault daemon uses: probe connections are `redis-probe:faults:<target>`. */
export const INSTANCE_ID = 'faults';
/** Every fault daemon probes each second; the bounds below are expressed in these cycles. */
export const EVERY_SECOND = '* * * * * *';
export const CYCLE_MS = 1_000;
/** Headroom for a loaded 2-core machine on top of "one cycle plus the timeout". */
export const SLACK_MS = 1_500;

/** Process-level failures seen while a test file ran: none is allowed. */
export interface ProcessFaults {
  readonly events: readonly string[];
  assertNone(): void;
  dispose(): void;
}

/** Records every unhandledRejection / uncaughtException instead of letting the runner crash on the first. */
export function watchProcessFaults(): ProcessFaults {
  const events: string[] = [];
  const onRejection = (reason: unknown) => events.push(`unhandledRejection: ${String(reason)}`);
  const onException = (error: unknown) => events.push(`uncaughtException: ${String(error)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    events,
    assertNone: () => assert.deepEqual(events, [], 'no unhandled rejection or uncaught exception'),
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

export interface CycleEntry {
  readonly atMs: number;
  readonly target: string;
  readonly ok: boolean;
  readonly trigger: string;
  readonly step?: string;
  readonly reason?: string;
  readonly error?: string;
  readonly steps: Readonly<Record<string, number>>;
}

export function cycleEntries(entries: readonly LogEntry[], target?: string, sinceMs = 0): CycleEntry[] {
  return entries
    .filter((entry) => (entry.message === 'probe cycle succeeded' || entry.message === 'probe cycle failed') && entry.atMs >= sinceMs)
    .map((entry) => ({
      atMs: entry.atMs,
      target: String(entry.fields.target),
      ok: entry.message === 'probe cycle succeeded',
      trigger: String(entry.fields.trigger),
      ...(entry.fields.step !== undefined ? { step: String(entry.fields.step) } : {}),
      ...(entry.fields.reason !== undefined ? { reason: String(entry.fields.reason) } : {}),
      ...(entry.fields.error !== undefined ? { error: String(entry.fields.error) } : {}),
      steps: (entry.fields.steps ?? {}) as Record<string, number>,
    }))
    .filter((cycle) => target === undefined || cycle.target === target);
}

/** Nearest-rank percentile; NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A plain-TCP loopback target probed every second. */
export function faultTarget(name: string, port: number, overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name,
    host: '127.0.0.1',
    port,
    db: 0,
    labels: {},
    schedule: EVERY_SECOND,
    timeoutMs: 400,
    tls: { enabled: false, verify: true },
    key: { prefix: 'redis-probe:', ttlMs: 60_000 },
    steps: ['ping', 'set', 'get', 'client_list'],
    sla: { objective: 0.999 },
    ...overrides,
  };
}

/** A resolved config for an in-process daemon on an ephemeral loopback HTTP port. */
export function faultConfig(targets: readonly TargetConfig[], credentials: readonly CredentialConfig[] = [], shutdownGraceMs = 2_000): DaemonConfig {
  return {
    server: { host: '127.0.0.1', port: 0, shutdownGraceMs },
    log: { level: 'debug', format: 'json', cycles: 'failures' },
    // full: the fault tests read the failing step and reason off one series.
    metrics: { detail: 'full', stepHistograms: true, preinitialiseFailures: true },
    credentials,
    targets,
  };
}

/** An in-process daemon with a capturing logger, scraped over its real HTTP server. */
export interface DaemonHarness {
  readonly daemon: Daemon;
  readonly logger: CapturingLogger;
  readonly redactor: SecretRedactor;
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

export async function startDaemon(
  config: DaemonConfig,
  options: { clock?: Clock; tickSource?: TickSource; stagger?: boolean; redactor?: SecretRedactor } = {},
): Promise<DaemonHarness> {
  const logger = capturingLogger();
  const redactor = options.redactor ?? createSecretRedactor();
  let counter = 0;
  const daemon = createDaemon(config, {
    clock: options.clock ?? systemClock,
    logger,
    redactor,
    tickSource: options.tickSource ?? cronTickSource(),
    instanceId: INSTANCE_ID,
    randomValue: () => `fault-value-${++counter}`,
    version: '0.0.0-faults',
    random: Math.random,
    ...(options.stagger !== undefined ? { stagger: options.stagger } : {}),
  });
  await daemon.start();
  let stopped = false;
  return {
    daemon,
    logger,
    redactor,
    scrape: async () => (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await daemon.stop();
    },
  };
}

export const successOf = (text: string, target: string): number | undefined => sampleValue(text, 'redis_probe_success', { target });
export const failuresOf = (text: string, target: string, step: Step, reason: FailureReason): number =>
  sampleValue(text, 'redis_probe_cycle_failures_total', { target, step, reason }) ?? 0;

/** A long-lived admin connection: it stays logged in when passwords or certificates change underneath. */
export async function adminConnection(options: ConnectionOptions): Promise<Redis> {
  const client = new Redis({
    ...options,
    protocol: 2,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** CLIENT KILL of the daemon's own connection to `target` (found by its CLIENT SETNAME). */
export async function killProbeConnection(admin: Redis, target: string): Promise<void> {
  const name = `redis-probe:${INSTANCE_ID}:${target}`;
  const list = String(await admin.call('CLIENT', 'LIST'));
  const line = list.split('\n').find((entry) => entry.includes(` name=${name} `));
  const id = line ? /\bid=(\d+)/.exec(line)?.[1] : undefined;
  assert.ok(id, `the probe connection ${name} is listed`);
  await admin.call('CLIENT', 'KILL', 'ID', id);
}

/** What happened to one fault, for the matrix the suite prints. */
export interface FaultRow {
  readonly fault: string;
  readonly target: string;
  readonly observed: string;
  readonly detectedMs: number;
  readonly recoveredMs: number | undefined;
}

/** How one fault is applied and taken away, and what the daemon must report meanwhile. */
export interface FaultSpec {
  readonly fault: string;
  readonly target: string;
  readonly step: Step;
  readonly reason: FailureReason;
  /**
   * A reason the first failed cycle may honestly show instead, when it races the fault itself
   * (a connect during SIGKILL can reach the listener before the kernel closes it, then be reset).
   */
  readonly racingReason?: FailureReason;
  /** Per-step timeout of the target (the bound is one cycle plus this). */
  readonly timeoutMs: number;
  inject(): Promise<void>;
  /** Undefined for faults that live in the config (an unresolvable name): nothing to take away. */
  remove?: () => Promise<void>;
  /** Steps that may fail while the fault lasts after the first one (e.g. connect once the connection is dropped). */
  readonly laterSteps?: readonly Step[];
  /** Failed cycles to see before the fault is removed (default 2: the reason must hold while the fault lasts). */
  readonly minFailures?: number;
}

/**
 * Applies a fault and checks the contract: within one cycle plus the timeout the right step and reason are
 * counted and success is 0; once the fault is gone the very next cycle succeeds, without a restart.
 */
export async function exerciseFault(harness: DaemonHarness, spec: FaultSpec): Promise<FaultRow> {
  const { target, step, reason } = spec;
  const boundMs = CYCLE_MS + spec.timeoutMs + SLACK_MS;
  await waitFor(async () => successOf(await harness.scrape(), target) === 1, {
    timeoutMs: 2 * boundMs,
    intervalMs: 50,
    message: `${target} to be up before "${spec.fault}"`,
  });
  // Inject right after a cycle ended, so the fault meets the next cycle at its first step, not mid-cycle.
  const syncFromMs = performance.now();
  await waitFor(() => cycleEntries(harness.logger.entries, target, syncFromMs).some((cycle) => cycle.ok), {
    timeoutMs: 2 * boundMs,
    intervalMs: 5,
    message: `a fresh successful cycle of ${target}`,
  });
  const before = failuresOf(await harness.scrape(), target, step, reason);
  const injectedAtMs = performance.now();
  await spec.inject();
  await waitFor(
    async () => {
      const text = await harness.scrape();
      return failuresOf(text, target, step, reason) > before && successOf(text, target) === 0;
    },
    { timeoutMs: boundMs, intervalMs: 25, message: `${target}: ${step}/${reason} counted and success 0 after "${spec.fault}"` },
  );
  const detectedMs = performance.now() - injectedAtMs;
  const minFailures = spec.minFailures ?? 2;
  await waitFor(() => cycleEntries(harness.logger.entries, target, injectedAtMs).filter((cycle) => !cycle.ok).length >= minFailures, {
    timeoutMs: minFailures * boundMs,
    intervalMs: 25,
    message: `${minFailures} failed cycles of ${target} under "${spec.fault}"`,
  });
  const failures = cycleEntries(harness.logger.entries, target, injectedAtMs).filter((cycle) => !cycle.ok);
  const first = failures[0];
  const firstReason = first?.reason === spec.racingReason ? spec.racingReason : reason;
  assert.deepEqual([first?.step, first?.reason], [step, firstReason], `the first failure after "${spec.fault}" (${first?.error ?? 'none'})`);
  const allowed = new Set<string>([step, ...(spec.laterSteps ?? [])]);
  for (const failure of failures.slice(first?.reason === spec.racingReason ? 1 : 0)) {
    assert.ok(allowed.has(failure.step ?? '') && failure.reason === reason, `"${spec.fault}": ${failure.step}/${failure.reason} (${failure.error})`);
  }
  let recoveredMs: number | undefined;
  if (spec.remove) {
    await spec.remove();
    const removedAtMs = performance.now();
    await waitFor(() => cycleEntries(harness.logger.entries, target, removedAtMs).some((cycle) => cycle.ok), {
      timeoutMs: boundMs,
      intervalMs: 25,
      message: `${target} to succeed again after "${spec.fault}" was removed`,
    });
    recoveredMs = performance.now() - removedAtMs;
    assert.equal(successOf(await harness.scrape(), target), 1);
  }
  const later = [...new Set(failures.slice(1).map((failure) => `${failure.step}/${failure.reason}`))].filter((text) => text !== `${step}/${reason}`);
  const observed = `${step}/${reason}${later.length > 0 ? `, then ${later.join(', ')}` : ''}`;
  return { fault: spec.fault, target, observed, detectedMs, recoveredMs };
}

/** Renders the matrix rows for t.diagnostic. */
export function formatRows(rows: readonly FaultRow[]): string[] {
  return rows.map(
    (row) =>
      `${row.fault.padEnd(38)} ${row.observed.padEnd(52)} detected ${Math.round(row.detectedMs)} ms, ` +
      (row.recoveredMs === undefined ? 'no recovery (config fault)' : `recovered ${Math.round(row.recoveredMs)} ms`),
  );
}

/** Healthy control targets every fault file runs next to its broken ones (same server, several for a larger sample). */
export const HEALTHY_TARGETS = ['healthy-a', 'healthy-b', 'healthy-c', 'healthy-d', 'healthy-e'] as const;

/**
 * The healthy neighbours' contract: every cycle succeeded, none was starved (about one a second each), and
 * no command step waited on a broken neighbour. That wait would cost at least the neighbour's 400 ms timeout,
 * so the bounds sit well under it and well over what a busy 2-core CI machine adds (p99 seen up to ~60 ms).
 */
export function assertHealthyNeighbours(logger: CapturingLogger, fromMs: number, toMs: number): string {
  const seconds = (toMs - fromMs) / 1000;
  const all: CycleEntry[] = [];
  for (const target of HEALTHY_TARGETS) {
    const cycles = cycleEntries(logger.entries, target, fromMs).filter((cycle) => cycle.atMs <= toMs);
    const failed = cycles.filter((cycle) => !cycle.ok);
    assert.deepEqual(
      failed.map((cycle) => `${cycle.step}/${cycle.reason}: ${cycle.error}`),
      [],
      `${target} never failed`,
    );
    assert.ok(cycles.length >= Math.floor(seconds * 0.8) - 1, `${target} ran ${cycles.length} cycles in ${seconds.toFixed(1)} s`);
    all.push(...cycles);
  }
  const commandMs = all.flatMap((cycle) => ['ping', 'set', 'get', 'client_list'].map((step) => cycle.steps[step] ?? 0));
  const pingMs = all.map((cycle) => cycle.steps.ping ?? 0);
  const p99 = percentile(pingMs, 99);
  assert.ok(p99 < 200, `healthy PING p99 ${p99} ms stays far under a neighbour's 400 ms timeout`);
  assert.ok(percentile(commandMs, 99) < 200, `healthy command p99 ${percentile(commandMs, 99)} ms`);
  assert.ok(Math.max(...commandMs) < 350, `no healthy step waited on a broken neighbour (max ${Math.max(...commandMs)} ms)`);
  const errors = logger.entries.filter((entry) => entry.level === 'error');
  assert.deepEqual(
    errors.map((entry) => entry.message),
    [],
    'no cycle crashed and no error was logged',
  );
  return (
    `healthy neighbours: ${all.length} cycles in ${seconds.toFixed(1)} s, all ok; PING p50 ${percentile(pingMs, 50)} ms, ` +
    `p99 ${p99} ms, max ${Math.max(...pingMs)} ms; every command step p99 ${percentile(commandMs, 99)} ms`
  );
}

/** Active handles and requests by type, to compare before and after a daemon's life. */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/**
 * Waits until no more resources are active than before (plus `tolerance`): ioredis keeps a closed socket's
 * disconnect timer for up to 2 s, so this polls instead of sampling once.
 */
export async function assertResourcesReturned(before: Map<string, number>, tolerance = 2): Promise<string> {
  const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);
  const describeCounts = (counts: Map<string, number>) => [...counts].map(([type, count]) => `${type}=${count}`).join(' ');
  let after = activeResources();
  try {
    await waitFor(
      () => {
        after = activeResources();
        return total(after) <= total(before) + tolerance && (after.get('TCPSocketWrap') ?? 0) <= (before.get('TCPSocketWrap') ?? 0);
      },
      { timeoutMs: 5_000, intervalMs: 100, message: 'active resources to return to the baseline' },
    );
  } catch (error) {
    assert.fail(`${String(error)}\nbefore: ${describeCounts(before)}\nafter:  ${describeCounts(after)}`);
  }
  return `active resources before ${total(before)} (${describeCounts(before)}), after ${total(after)} (${describeCounts(after)})`;
}
