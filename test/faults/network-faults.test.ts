import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { waitFor } from '../support/wait.ts';
import type { FaultMode, FaultProxy } from '../support/fault-proxy.ts';
import {
  activeResources,
  assertHealthyNeighbours,
  assertResourcesReturned,
  exerciseFault,
  faultConfig,
  faultTarget,
  formatRows,
  HEALTHY_TARGETS,
  startDaemon,
  watchProcessFaults,
} from './support.ts';
import type { DaemonHarness, FaultRow } from './support.ts';

// Network faults between the probe and a real redis-server, injected by the TCP fault proxy, one target each,
// next to healthy targets in the same in-process daemon.
const TIMEOUT_MS = 400;
const FAULTS = ['latency', 'stall', 'reset', 'close', 'garbage', 'refuse'] as const;

const processFaults = watchProcessFaults();
const servers: RedisServer[] = [];
const proxies = new Map<string, FaultProxy>();
const rows: FaultRow[] = [];
let harness: DaemonHarness;
let baseline: Map<string, number>;
let startedAtMs: number;

before(async () => {
  const [upstream, healthy] = await Promise.all([startRedis(), startRedis()]);
  servers.push(upstream, healthy);
  for (const fault of FAULTS) proxies.set(fault, await startFaultProxy({ host: upstream.host, port: upstream.port }));
  baseline = activeResources();
  const targets = [
    ...HEALTHY_TARGETS.map((name) => faultTarget(name, healthy.port)),
    ...FAULTS.map((fault) => faultTarget(`net-${fault}`, proxies.get(fault)!.port, { timeoutMs: TIMEOUT_MS })),
  ];
  harness = await startDaemon(faultConfig(targets));
  startedAtMs = performance.now();
});

after(async () => {
  await harness?.stop();
  await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
  await Promise.all(servers.map((server) => server.stop()));
  processFaults.dispose();
});

const proxy = (fault: (typeof FAULTS)[number]): FaultProxy => proxies.get(fault)!;
const setMode =
  (fault: (typeof FAULTS)[number], mode: FaultMode, resetOpen = false) =>
  async () => {
    await proxy(fault).setMode(mode);
    // Modes that act on new connections only need the open one dropped to take effect.
    if (resetOpen) proxy(fault).resetAll();
  };

describe('network faults are reported by step and reason, and healed without a restart', { timeout: 120_000 }, () => {
  it('latency beyond the timeout: ping/timeout', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy latency 1500 ms (timeout 400 ms)',
        target: 'net-latency',
        step: 'ping',
        reason: 'timeout',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: setMode('latency', { latencyMs: 1_500 }),
        remove: setMode('latency', 'pass'),
      }),
    );
  });

  it('stall (accepts, forwards nothing): ping/timeout', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy stall',
        target: 'net-stall',
        step: 'ping',
        reason: 'timeout',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: setMode('stall', 'stall'),
        remove: setMode('stall', 'pass'),
      }),
    );
  });

  it('RST in the middle of a reply: ping/connection_reset', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy reset-mid-reply',
        target: 'net-reset',
        step: 'ping',
        reason: 'connection_reset',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: setMode('reset', 'reset-mid-reply'),
        remove: setMode('reset', 'pass'),
      }),
    );
  });

  it('FIN right after accept: connect/connection_reset', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy close-on-connect',
        target: 'net-close',
        step: 'connect',
        reason: 'connection_reset',
        timeoutMs: TIMEOUT_MS,
        inject: setMode('close', 'close-on-connect', true),
        remove: setMode('close', 'pass'),
      }),
    );
  });

  it('bytes that are not RESP: ping/unexpected_reply, then connect/unexpected_reply', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy garbage replies',
        target: 'net-garbage',
        step: 'ping',
        reason: 'unexpected_reply',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: setMode('garbage', 'garbage'),
        remove: setMode('garbage', 'pass'),
      }),
    );
  });

  it('connection refused (nothing listens): connect/connection_refused', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'proxy refuse',
        target: 'net-refuse',
        step: 'connect',
        reason: 'connection_refused',
        timeoutMs: TIMEOUT_MS,
        inject: setMode('refuse', 'refuse', true),
        remove: setMode('refuse', 'pass'),
      }),
    );
  });

  it('kept the healthy neighbours fast and green, crashed nothing, and left no handles behind', async (t) => {
    const endedAtMs = performance.now();
    t.diagnostic(assertHealthyNeighbours(harness.logger, startedAtMs, endedAtMs));
    for (const line of formatRows(rows)) t.diagnostic(line);
    assert.equal(rows.length, FAULTS.length);
    await harness.stop();
    await waitFor(() => FAULTS.every((fault) => proxy(fault).connectionCount() === 0), {
      timeoutMs: 3_000,
      message: 'every connection through the proxies to close once the daemon stopped',
    });
    t.diagnostic(await assertResourcesReturned(baseline));
    processFaults.assertNone();
  });
});
