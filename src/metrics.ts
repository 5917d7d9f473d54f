import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TargetConfig } from './config/types.ts';
import { FAILURE_REASONS } from './probe-result.ts';
import { MAINTENANCE_EVENT_LABELS } from './maintenance/parse-event.ts';
import type { MaintenanceSink } from './maintenance/maintenance-monitor.ts';
import type { CycleResult, Step } from './probe-result.ts';
import { summarizeClusterCycle } from './cluster/roll-up.ts';
import { renderMetrics } from './metrics-render.ts';
import type { DefaultLabels } from './metrics-render.ts';

/** How often the event-loop delay behind nodejs_eventloop_lag_* is sampled. */
const EVENT_LOOP_SAMPLE_MS = 50;

/** Histogram buckets fit for a cache: healthy steps take well under a millisecond on a LAN. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * prom-client's default collectors add `nodejs_active_{handles,requests,resources}_total` gauges, which
 * `promtool check metrics` rejects (`_total` is for counters). Each is the sum of a `{type}`-labelled
 * gauge that stays, so dropping them loses nothing.
 */
const GAUGES_MISNAMED_AS_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A registry whose `metrics()` renders in slices and yields to the event loop between them (same text as
 * prom-client's; see metrics-render.ts): at 1,000 targets prom-client's own render blocks for about a third
 * of a second (npm run bench, `render`).
 */
class SlicedRenderRegistry extends Registry {
  #defaultLabels: DefaultLabels = {};

  override setDefaultLabels(labels: DefaultLabels): void {
    super.setDefaultLabels(labels);
    this.#defaultLabels = { ...labels };
  }

  override metrics(): Promise<string> {
    return renderMetrics(this, { defaultLabels: this.#defaultLabels });
  }
}

/** The metrics of one target; the probe never sees these, a sink feeds them results. */
export interface TargetMetrics {
  record(result: CycleResult): void;
  /** One cycle of a cluster target: a series set per node (with `node`) plus the target-level roll-up. */
  recordCluster(results: readonly CycleResult[]): void;
  recordSkipped(): void;
  /** Deletes every series of the target (it left the config). */
  remove(): void;
}

/** The token manager's health, per credential. */
export interface CredentialMetrics {
  tokenAcquired(expiresAtMs: number, durationMs: number): void;
  refreshFailed(durationMs: number): void;
  remove(): void;
}

/** The daemon's metrics, on a registry of its own. */
export interface ProbeMetrics {
  readonly registry: Registry;
  registerTarget(target: TargetConfig, options: { readonly authenticated: boolean }): TargetMetrics;
  observeLateness(latenessMs: number): void;
  /** Maintenance notification series of one target (only targets that subscribe have them). */
  registerMaintenance(target: string): MaintenanceMetrics;
  /** The outcome of a config reload; the initial load counts as a successful one. */
  recordReload(success: boolean, atMs: number): void;
  /** Sets (or, with undefined, drops) the `location` label every series carries. */
  setLocation(location: string | undefined): void;
  /** Token series of one Entra credential. */
  registerCredential(name: string): CredentialMetrics;
}

/** A target's maintenance series; `remove` deletes them when the target leaves. */
export interface MaintenanceMetrics extends MaintenanceSink {
  remove(): void;
}

export function createProbeMetrics(options: {
  version: string;
  defaultMetrics?: boolean;
  /** false: no `redis_probe_step_duration_seconds` (16 series per step and target); the cycle histogram stays. */
  stepHistograms?: boolean;
  /**
   * true (default): every step × reason failure series exists from the start at 0, so `increase()` sees
   * the first failure. false: a series appears at its first failure (about 85 fewer series per target;
   * that first failure is invisible to `increase()`).
   */
  preinitialiseFailures?: boolean;
  /** A `location` label on every series (prom-client default labels, applied when the registry is read). */
  location?: string;
}): ProbeMetrics {
  const registry = new SlicedRenderRegistry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) {
    // prom-client samples event-loop delay every 10 ms by default: 100 wake-ups a second, which cost an
    // otherwise idle daemon 8.6 ms of CPU per second (npm run bench, `idle`). Sampling every 50 ms costs
    // about 2 ms per second and still sees any block of 50 ms or more.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const name of GAUGES_MISNAMED_AS_TOTALS) registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'redis_probe_build_info',
    help: 'Build information of the running redis-probe; always 1.',
    labelNames: ['version', 'node_version'],
    registers,
  }).set({ version: options.version, node_version: process.versions.node }, 1);

  const success = new Gauge({ name: 'redis_probe_success', help: 'Whether the last probe cycle of the target succeeded (1) or failed (0).', labelNames: ['target'], registers });
  const cycles = new Counter({ name: 'redis_probe_cycles_total', help: 'Probe cycles run against the target, successful or not.', labelNames: ['target'], registers });
  const failures = new Counter({
    name: 'redis_probe_cycle_failures_total',
    help: 'Failed probe cycles by the step that failed and the reason.',
    labelNames: ['target', 'step', 'reason'],
    registers,
  });
  const skipped = new Counter({ name: 'redis_probe_cycles_skipped_total', help: 'Cycles not started because the previous one was still running.', labelNames: ['target'], registers });
  const cycleDuration = new Histogram({
    name: 'redis_probe_cycle_duration_seconds',
    help: 'Duration of successful probe cycles, connect included when it happened.',
    labelNames: ['target'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const stepDuration =
    (options.stepHistograms ?? true)
      ? new Histogram({
          name: 'redis_probe_step_duration_seconds',
          help: 'Duration of each successful probe step (per node for a cluster target).',
          // `node` only on cluster targets, observed per node only: sum by (target, step, le) pools the nodes.
          labelNames: ['target', 'node', 'step'],
          buckets: LATENCY_BUCKETS_SECONDS,
          registers,
        })
      : undefined;
  const lastSuccess = new Gauge({ name: 'redis_probe_last_success_timestamp_seconds', help: 'When the target last completed a successful cycle (Unix time).', labelNames: ['target'], registers });
  const clients = new Gauge({ name: 'redis_probe_clients', help: 'Clients connected to the target, from its last CLIENT LIST.', labelNames: ['target'], registers });
  const certExpiry = new Gauge({ name: 'redis_probe_tls_cert_expiry_timestamp_seconds', help: "The target's TLS server certificate notAfter (Unix time).", labelNames: ['target'], registers });
  const stepSupported = new Gauge({
    name: 'redis_probe_step_supported',
    help: 'Whether the server allows the step (0: refused for lack of permission or support, not counted as failure).',
    labelNames: ['target', 'step'],
    registers,
  });
  // Cluster nodes get series of their own names, not a `node` label on redis_probe_success/cycles/failures:
  // there `max by (target)` would hide a failed shard and `sum by (target)` would count a cycle N+1 times.
  const nodeSuccess = new Gauge({ name: 'redis_probe_node_success', help: 'Whether the last probe cycle against this cluster primary succeeded (1) or failed (0).', labelNames: ['target', 'node'], registers });
  const nodeCycles = new Counter({ name: 'redis_probe_node_cycles_total', help: 'Probe cycles run against this cluster primary.', labelNames: ['target', 'node'], registers });
  const nodeFailures = new Counter({
    name: 'redis_probe_node_cycle_failures_total',
    help: 'Failed probe cycles against this cluster primary by step and reason (each series appears at its first failure).',
    labelNames: ['target', 'node', 'step', 'reason'],
    registers,
  });
  const clusterNodes = new Gauge({ name: 'redis_probe_cluster_nodes', help: 'Primaries of a cluster target in its last cycle, by outcome (ok or failed).', labelNames: ['target', 'state'], registers });
  const lateness = new Histogram({
    name: 'redis_probe_scheduler_lateness_seconds',
    help: 'How late cycles started after their planned time.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const targetInfo = createTargetInfo(registry);
  const maintenanceEvents = new Counter({
    name: 'redis_probe_maintenance_events_total',
    help: 'Azure maintenance notifications received on AzureRedisEvents, by normalised type (unknown and malformed included).',
    labelNames: ['target', 'event'],
    registers,
  });
  const maintenanceInProgress = new Gauge({
    name: 'redis_probe_maintenance_in_progress',
    help: 'Whether Azure announced planned maintenance of the target that has not ended (1), else 0.',
    labelNames: ['target'],
    registers,
  });
  const reloadSuccessful = new Gauge({
    name: 'redis_probe_config_last_reload_successful',
    help: 'Whether the last configuration reload succeeded (1) or failed and the previous config still runs (0).',
    registers,
  });
  const reloadSuccessTime = new Gauge({
    name: 'redis_probe_config_last_reload_success_timestamp_seconds',
    help: 'When the configuration was last loaded successfully (Unix time).',
    registers,
  });
  const setLocation = (location: string | undefined): void => registry.setDefaultLabels(location !== undefined ? { location } : {});
  setLocation(options.location);
  const tokenExpiry = new Gauge({
    name: 'redis_probe_token_expiry_timestamp_seconds',
    help: 'When the Entra token currently in use expires (Unix time).',
    labelNames: ['credential'],
    registers,
  });
  const tokenRefreshes = new Counter({
    name: 'redis_probe_token_refreshes_total',
    help: 'Token requests to Microsoft Entra ID by result.',
    labelNames: ['credential', 'result'],
    registers,
  });
  const tokenRefreshDuration = new Histogram({
    name: 'redis_probe_token_refresh_duration_seconds',
    help: 'Duration of token requests to Microsoft Entra ID, successful or not.',
    labelNames: ['credential'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  return {
    registry,
    observeLateness: (latenessMs) => lateness.observe(latenessMs / 1000),
    setLocation,
    recordReload(success, atMs) {
      reloadSuccessful.set(success ? 1 : 0);
      if (success) reloadSuccessTime.set(atMs / 1000);
    },
    registerMaintenance(target) {
      const labels = { target };
      // Zero-valued from the start, so increase() sees the first notification of each type.
      for (const event of MAINTENANCE_EVENT_LABELS) maintenanceEvents.inc({ ...labels, event }, 0);
      maintenanceInProgress.set(labels, 0);
      return {
        recordEvent: (event) => maintenanceEvents.inc({ ...labels, event }),
        setInProgress: (inProgress) => maintenanceInProgress.set(labels, inProgress ? 1 : 0),
        remove() {
          for (const event of MAINTENANCE_EVENT_LABELS) maintenanceEvents.remove({ ...labels, event });
          maintenanceInProgress.remove(labels);
        },
      };
    },
    registerCredential(credential) {
      const labels = { credential };
      for (const result of ['success', 'failure']) tokenRefreshes.inc({ ...labels, result }, 0);
      return {
        tokenAcquired(expiresAtMs, durationMs) {
          tokenExpiry.set(labels, expiresAtMs / 1000);
          tokenRefreshes.inc({ ...labels, result: 'success' });
          tokenRefreshDuration.observe(labels, durationMs / 1000);
        },
        refreshFailed(durationMs) {
          tokenRefreshes.inc({ ...labels, result: 'failure' });
          tokenRefreshDuration.observe(labels, durationMs / 1000);
        },
        remove() {
          tokenExpiry.remove(labels);
          tokenRefreshDuration.remove(labels);
          for (const result of ['success', 'failure']) tokenRefreshes.remove({ ...labels, result });
        },
      };
    },
    registerTarget(target, { authenticated }) {
      const labels = { target: target.name };
      const steps: Step[] = ['connect', ...(authenticated ? (['auth'] as const) : []), ...(target.cluster ? (['discover'] as const) : []), ...target.steps];
      // Zero-valued series from the start, so rate() and increase() see the first failure.
      cycles.inc(labels, 0);
      skipped.inc(labels, 0);
      if (options.preinitialiseFailures ?? true) {
        for (const step of steps) for (const reason of FAILURE_REASONS) failures.inc({ ...labels, step, reason }, 0);
      }
      for (const step of target.steps) stepSupported.set({ ...labels, step }, 1);
      targetInfo.add(target);
      const successChild = success.labels(labels);
      const cyclesChild = cycles.labels(labels);
      // A cluster target's step latencies are per node; its target-level ones appear only when discovery fails.
      const stepChildren = new Map(stepDuration && !target.cluster ? steps.map((step) => [step, stepDuration.labels({ ...labels, step })]) : []);
      /** Per node of a cluster target: the failure and step label sets it has, so they can be removed. */
      const nodeSeries = new Map<string, { failures: Map<string, { step: Step; reason: string }>; steps: Set<Step> }>();
      const removeNode = (node: string): void => {
        const nodeLabels = { ...labels, node };
        const seen = nodeSeries.get(node);
        nodeSeries.delete(node);
        nodeSuccess.remove(nodeLabels);
        nodeCycles.remove(nodeLabels);
        for (const failure of seen?.failures.values() ?? []) nodeFailures.remove({ ...nodeLabels, ...failure });
        for (const step of seen?.steps ?? []) stepDuration?.remove({ ...nodeLabels, step });
      };
      const unsupportedSteps = new Set<Step>();
      const CLUSTER_STATES = ['ok', 'failed'] as const;
      if (target.cluster) for (const state of CLUSTER_STATES) clusterNodes.set({ ...labels, state }, 0);
      const recordTarget = (result: CycleResult, observeSteps: boolean): void => {
        cyclesChild.inc();
        successChild.set(result.success ? 1 : 0);
        if (result.failure) failures.inc({ ...labels, step: result.failure.step, reason: result.failure.reason });
        if (observeSteps) {
          for (const timing of result.steps) {
            (stepChildren.get(timing.step) ?? stepDuration?.labels({ ...labels, step: timing.step }))?.observe(timing.durationMs / 1000);
          }
        }
        if (result.success) {
          cycleDuration.observe(labels, result.durationMs / 1000);
          lastSuccess.set(labels, (result.startedAtMs + result.durationMs) / 1000);
        }
        if (result.observations.clientCount !== undefined) clients.set(labels, result.observations.clientCount);
        if (result.observations.serverCertNotAfterMs !== undefined) {
          certExpiry.set(labels, result.observations.serverCertNotAfterMs / 1000);
        }
        // Written only when a step's support changes: a label lookup per step per cycle adds up over thousands of targets.
        for (const step of target.steps) {
          const supported = !result.unsupportedSteps.includes(step);
          if (supported === unsupportedSteps.has(step)) {
            stepSupported.set({ ...labels, step }, supported ? 1 : 0);
            if (supported) unsupportedSteps.delete(step);
            else unsupportedSteps.add(step);
          }
        }
      };
      return {
        record: (result) => recordTarget(result, true),
        recordCluster(results) {
          const { summary } = summarizeClusterCycle(results);
          const nodeResults = results.filter((result) => result.node !== undefined);
          // The roll-up's step timings are the slowest node's: observing them too would count each step twice.
          recordTarget(summary, nodeResults.length === 0);
          const ok = nodeResults.filter((result) => result.success).length;
          clusterNodes.set({ ...labels, state: 'ok' }, ok);
          clusterNodes.set({ ...labels, state: 'failed' }, nodeResults.length - ok);
          const present = new Set<string>();
          for (const result of nodeResults) {
            const node = result.node ?? '';
            present.add(node);
            const nodeLabels = { ...labels, node };
            const seen = nodeSeries.get(node) ?? { failures: new Map(), steps: new Set<Step>() };
            nodeSeries.set(node, seen);
            nodeCycles.inc(nodeLabels);
            nodeSuccess.set(nodeLabels, result.success ? 1 : 0);
            if (result.failure) {
              const failure = { step: result.failure.step, reason: result.failure.reason };
              nodeFailures.inc({ ...nodeLabels, ...failure });
              seen.failures.set(`${failure.step}/${failure.reason}`, failure);
            }
            for (const timing of result.steps) {
              stepDuration?.observe({ ...nodeLabels, step: timing.step }, timing.durationMs / 1000);
              seen.steps.add(timing.step);
            }
          }
          // Every cycle probes every known primary, so a node missing here has left the cluster (or failed over).
          for (const node of [...nodeSeries.keys()]) if (!present.has(node)) removeNode(node);
        },
        recordSkipped: () => skipped.inc(labels),
        remove() {
          for (const node of [...nodeSeries.keys()]) removeNode(node);
          for (const state of CLUSTER_STATES) clusterNodes.remove({ ...labels, state });
          for (const metric of [success, cycles, skipped, cycleDuration, lastSuccess, clients, certExpiry]) metric.remove(labels);
          for (const step of steps) {
            stepDuration?.remove({ ...labels, step });
            for (const reason of FAILURE_REASONS) failures.remove({ ...labels, step, reason });
          }
          for (const step of target.steps) stepSupported.remove({ ...labels, step });
          targetInfo.remove(target.name);
        },
      };
    },
  };
}

/** `redis_probe_target_info`: its label set is the union of every target's static labels. */
function createTargetInfo(registry: Registry) {
  const NAME = 'redis_probe_target_info';
  const infos = new Map<string, Record<string, string>>();
  let labelNames: string[] = [];
  let gauge: Gauge | undefined;
  const labelsOf = (info: Record<string, string>) => Object.fromEntries(labelNames.map((label) => [label, info[label] ?? '']));

  const rebuild = () => {
    registry.removeSingleMetric(NAME);
    gauge = new Gauge({
      name: NAME,
      help: 'Static facts about each probed target; always 1.',
      labelNames,
      registers: [registry],
    });
    for (const info of infos.values()) gauge.set(labelsOf(info), 1);
  };

  return {
    add(target: TargetConfig) {
      const info = {
        ...target.labels,
        target: target.name,
        host: target.host,
        port: String(target.port),
        tls: String(target.tls.enabled),
      };
      const replaced = infos.has(target.name);
      infos.set(target.name, info);
      // Only a new label name needs a new gauge; rebuilding on every add made registering N targets O(N²).
      const known = new Set(labelNames);
      if (gauge && !replaced && Object.keys(info).every((label) => known.has(label))) {
        gauge.set(labelsOf(info), 1);
        return;
      }
      labelNames = [...new Set([...infos.values()].flatMap((each) => Object.keys(each)))].sort();
      rebuild();
    },
    remove(name: string) {
      infos.delete(name);
      rebuild();
    },
  };
}
