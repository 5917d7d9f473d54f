import { classifyError } from '../probe/classify-error.ts';
import type { ClusterConfig, TargetConfig } from '../config/types.ts';
import type { CycleResult, CycleTrigger, StepTiming } from '../shared/probe-result.ts';
import { createTargetProbe } from '../probe/probe.ts';
import { tlsServername } from '../probe/redis-connection.ts';
import type { ProbeDeps, TargetProbe } from '../probe/probe.ts';
import type { TargetRunner } from '../probe/probe.ts';
import { formatAddress } from '../shared/address.ts';
import type { HostPort } from '../shared/address.ts';
import type { ClusterPrimary, ClusterTopology } from './discover.ts';
import { fetchTopology } from './discovery-connection.ts';
import { StepFailedError } from '../probe/timed-step.ts';
import { hashTagForRanges, keySlot, slotInRanges } from './slot-key.ts';
import { describeError } from '../shared/error-text.ts';

/** A target with `cluster` set: what createClusterRunner accepts. */
export type ClusterTargetConfig = TargetConfig & { readonly cluster: ClusterConfig };

/** One primary being probed: its announced address (the `node` label), slots, hash tag and probe. */
interface NodeEntry {
  readonly address: string;
  readonly primary: ClusterPrimary;
  readonly tag: string;
  readonly probe: TargetProbe;
}

type RefreshOutcome =
  { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly error: StepFailedError; readonly timings: StepTiming[] };

/**
 * Probes every primary of a Redis Cluster: discovers them through the configured endpoint, gives each
 * its own probe (same TLS settings and credential, a key whose slot it owns) and returns one result per
 * primary, each with `node`. The topology is re-read every `cluster.refreshMs`, after any failed node,
 * and at once within the cycle when a node answers MOVED/ASK, so a failover does not read as an outage.
 */
export function createClusterRunner(target: ClusterTargetConfig, deps: ProbeDeps): TargetRunner {
  const { clock } = deps;
  const nodes = new Map<string, NodeEntry>();
  const lostListeners: (() => void)[] = [];
  let lastRefreshMs: number | undefined;
  let refreshRequested = false;
  let closed = false;

  // Announced addresses are usually IPs, absent from the certificate: keep verifying against the configured name.
  const servername = tlsServername(target);
  // The seed and each node are probed like single endpoints.
  const { cluster: _seedCluster, ...single } = target;
  const nodeTarget = (reachable: HostPort, keyPrefix: string): TargetConfig => ({
    ...single,
    host: reachable.host,
    port: reachable.port,
    tls: { ...target.tls, ...(servername !== undefined ? { servername } : {}) },
    key: { ...target.key, prefix: keyPrefix },
  });
  const reachableOf = (address: string, announced: HostPort): HostPort => target.cluster.natMap[address] ?? announced;

  const createNode = (primary: ClusterPrimary, address: string): NodeEntry => {
    const tag = hashTagForRanges(primary.slots);
    // The tag comes first so it is the key's first {...}: config forbids braces in the prefix.
    const probe = createTargetProbe(nodeTarget(reachableOf(address, primary), `${target.key.prefix}{${tag}}:`), deps);
    probe.onConnectionLost(() => {
      // A node that drops between cycles may have failed over: re-read the topology on the early cycle.
      refreshRequested = true;
      for (const listener of lostListeners) listener();
    });
    return { address, primary, tag, probe };
  };

  /** Replaces the node set with `topology`'s primaries; keeps probes whose key still lands on their node. */
  const apply = async (topology: ClusterTopology): Promise<boolean> => {
    const seen = new Set<string>();
    const retired: TargetProbe[] = [];
    let changed = false;
    const next = new Map<string, NodeEntry>();
    for (const primary of topology.primaries) {
      const address = formatAddress(primary);
      if (seen.has(address)) continue;
      seen.add(address);
      const existing = nodes.get(address);
      if (existing && slotInRanges(keySlot(`{${existing.tag}}`), primary.slots)) {
        next.set(address, { ...existing, primary });
        continue;
      }
      if (existing) retired.push(existing.probe);
      next.set(address, createNode(primary, address));
      changed = true;
    }
    for (const [address, entry] of nodes) {
      if (!next.has(address)) {
        retired.push(entry.probe);
        changed = true;
      }
    }
    nodes.clear();
    // close() may have run while this refresh was in flight: nothing new may outlive it.
    if (closed) retired.push(...[...next.values()].map((entry) => entry.probe));
    else for (const [address, entry] of next) nodes.set(address, entry);
    await Promise.all(retired.map((probe) => probe.close()));
    return changed;
  };

  /** Reads the topology through the configured endpoint, else through any known primary (as cluster clients do). */
  const refresh = async (): Promise<RefreshOutcome> => {
    const seed: HostPort = { host: target.host, port: target.port };
    const candidates: { endpoint: TargetConfig; connectedHost: string }[] = [
      { endpoint: single, connectedHost: target.host },
      ...[...nodes.values()].map((entry) => ({
        endpoint: nodeTarget(reachableOf(entry.address, entry.primary), target.key.prefix),
        connectedHost: entry.primary.host,
      })),
    ].filter((candidate, index) => index === 0 || formatAddress(candidate.endpoint) !== formatAddress(seed));
    let first: { error: StepFailedError; timings: StepTiming[] } | undefined;
    for (const candidate of candidates) {
      const timings: StepTiming[] = [];
      try {
        const topology = await fetchTopology(candidate.endpoint, candidate.connectedHost, deps, timings);
        const changed = await apply(topology);
        lastRefreshMs = clock.monotonicMs();
        refreshRequested = false;
        return { ok: true, changed };
      } catch (error) {
        const failure = error instanceof StepFailedError ? error : new StepFailedError('discover', error);
        first ??= { error: failure, timings };
      }
    }
    refreshRequested = true;
    return { ok: false, ...(first as { error: StepFailedError; timings: StepTiming[] }) };
  };

  const refreshDue = (): boolean =>
    nodes.size === 0 || refreshRequested || lastRefreshMs === undefined || clock.monotonicMs() - lastRefreshMs >= target.cluster.refreshMs;

  const probeNode = async (entry: NodeEntry, trigger: CycleTrigger): Promise<CycleResult> => ({
    ...(await entry.probe.runCycle(trigger)),
    node: entry.address,
  });

  /** The cycle's only result when no node is known: the discovery failure, without `node`. */
  const discoveryFailure = (trigger: CycleTrigger, startedAtMs: number, started: number, outcome: Extract<RefreshOutcome, { ok: false }>): CycleResult => ({
    target: target.name,
    trigger,
    startedAtMs,
    durationMs: clock.monotonicMs() - started,
    success: false,
    steps: outcome.timings,
    failure: {
      step: outcome.error.step,
      reason: classifyError(outcome.error.error),
      message: deps.redactor.redact(describeError(outcome.error.error)),
    },
    unsupportedSteps: [],
    observations: {},
  });

  return {
    target: target.name,
    onConnectionLost(listener) {
      lostListeners.push(listener);
    },
    async run(trigger) {
      const startedAtMs = clock.now();
      const started = clock.monotonicMs();
      if (refreshDue()) {
        const outcome = await refresh();
        // With a known topology a failed re-read is retried next cycle; the nodes themselves are still probed.
        if (!outcome.ok && nodes.size === 0) return [discoveryFailure(trigger, startedAtMs, started, outcome)];
      }
      const entries = [...nodes.values()];
      let results = await Promise.all(entries.map((entry) => probeNode(entry, trigger)));
      if (results.some((result) => result.failure?.reason === 'moved')) {
        // A redirect means our map is stale: a client would follow it, so re-read and probe again once.
        const outcome = await refresh();
        if (outcome.ok && outcome.changed) {
          // Results of nodes whose probe survived the refresh stand, unless they were the redirected ones.
          const earlier = new Map(entries.map((entry, index) => [entry.probe, results[index]]));
          results = await Promise.all(
            [...nodes.values()].map((entry) => {
              const result = earlier.get(entry.probe);
              return result && result.failure?.reason !== 'moved' ? Promise.resolve(result) : probeNode(entry, trigger);
            }),
          );
        }
      }
      if (results.some((result) => !result.success)) refreshRequested = true;
      return results;
    },
    async close() {
      closed = true;
      const probes = [...nodes.values()].map((entry) => entry.probe);
      nodes.clear();
      await Promise.all(probes.map((probe) => probe.close()));
    },
  };
}
