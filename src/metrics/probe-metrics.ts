import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { MetricsDetail, TargetConfig } from '../config/types.ts';
import { FAILURE_REASONS } from '../shared/probe-result.ts';
import { MAINTENANCE_EVENT_LABELS } from '../maintenance/parse-event.ts';
import type { MaintenanceSink } from '../maintenance/maintenance-monitor.ts';
import type { CycleResult, Step } from '../shared/probe-result.ts';
import { summarizeClusterCycle } from '../cluster/roll-up.ts';
import { HistogramFamily, InfoFamily, ScalarFamily, SummaryFamily } from './families.ts';
import type { HistogramSeries, LabelValues } from './families.ts';
import { ProbeRegistry } from './registry.ts';

/** How often the event-loop delay behind nodejs_eventloop_lag_* is sampled. */
const EVENT_LOOP_SAMPLE_MS = 1000;

/** `detail: full` buckets, fit for a cache: healthy steps take well under a millisecond on a LAN. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The cycle histogram's buckets at `detail: standard`: a whole cycle (four commands, a connect at times) takes
 * about a millisecond on a LAN and a few across a region; 0.1 must stay, the latency SLI's threshold
 * (k8s/rules/redis-probe.rules.yml).
 */
export const CYCLE_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

/**
 * prom-client's default collectors add `nodejs_active_{handles,requests,resources}_total` gauges, which
 * `promtool check metrics` rejects (`_total` is for counters). Each is the sum of a `{type}`-labelled
 * gauge that stays, so dropping them loses nothing.
 */
const GAUGES_MISNAMED_AS_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

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
  readonly registry: ProbeRegistry;
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
  /**
   * standard (default, about 35 series per target): failures by reason and, apart, by step; per-step
   * latency as sum and count; the cycle histogram in CYCLE_BUCKETS_SECONDS. full: failures by step ×
   * reason, and both histograms in LATENCY_BUCKETS_SECONDS (about 200 series per target).
   */
  detail?: MetricsDetail;
  /** false: no `redis_probe_step_duration_seconds` at all; the cycle histogram stays. */
  stepHistograms?: boolean;
  /**
   * true (default with `detail: full`): every failure series exists from the start at 0, so `increase()`
   * sees the first failure. false: a series appears at its first failure, which `increase()` then misses.
   */
  preinitialiseFailures?: boolean;
  /** A `location` label on every series (prom-client default labels, applied when the registry is read). */
  location?: string;
}): ProbeMetrics {
  const registry = new ProbeRegistry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) {
    // prom-client samples event-loop delay every 10 ms by default. Each sample wakes the process, and those
    // wake-ups were most of what an idle daemon spends and a visible share of each cycle's CPU (npm run
    // bench, `idle` and `cost`). One sample a second keeps nodejs_eventloop_lag_* as a coarse gauge;
    // redis_probe_scheduler_lateness_seconds times every cycle's start.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const name of GAUGES_MISNAMED_AS_TOTALS) registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'redis_probe_build_info',
    help: 'Build information of the running redis-probe; always 1.',
    labelNames: ['version', 'node_version'],
    registers,
  }).set({ version: options.version, node_version: process.versions.node }, 1);

  // The families below grow with the targets, so they live in compact storage rather than in prom-client.
  const TARGET = ['target'];
  const NODE = ['target', 'node'];
  const scalar = (type: 'counter' | 'gauge', name: string, help: string, scopeLabels: readonly string[], seriesLabels: readonly string[] = []) =>
    registry.addFamily(new ScalarFamily({ type, name, help, scopeLabels, seriesLabels }));
  const full = options.detail === 'full';
  const preinitialiseFailures = options.preinitialiseFailures ?? full;

  const success = scalar('gauge', 'redis_probe_success', 'Whether the last probe cycle of the target succeeded (1) or failed (0).', TARGET);
  const cycles = scalar('counter', 'redis_probe_cycles_total', 'Probe cycles run against the target, successful or not.', TARGET);
  // Reason × step is 17 × 5-7 series per target, nearly all zero: only `detail: full` crosses them.
  const failures = full
    ? scalar('counter', 'redis_probe_cycle_failures_total', 'Failed probe cycles by the step that failed and the reason.', TARGET, ['step', 'reason'])
    : scalar(
        'counter',
        'redis_probe_cycle_failures_total',
        'Failed probe cycles by reason (the failing step: redis_probe_cycle_failures_by_step_total).',
        TARGET,
        ['reason'],
      );
  const failuresByStep = scalar('counter', 'redis_probe_cycle_failures_by_step_total', 'Failed probe cycles by the step that failed.', TARGET, ['step']);
  const skipped = scalar('counter', 'redis_probe_cycles_skipped_total', 'Cycles not started because the previous one was still running.', TARGET);
  const cycleDuration = registry.addFamily(
    new HistogramFamily({
      name: 'redis_probe_cycle_duration_seconds',
      help: 'Duration of successful probe cycles, connect included when it happened.',
      scopeLabels: TARGET,
      buckets: full ? LATENCY_BUCKETS_SECONDS : CYCLE_BUCKETS_SECONDS,
    }),
  );
  // `node` only on cluster targets, observed per node only: sum by (target, step) pools the nodes. Buckets
  // per step would be 10-16 series each: by default a step keeps its sum and count (a mean), and
  // `detail: full` makes it a histogram.
  const stepOptions = {
    name: 'redis_probe_step_duration_seconds',
    help: 'Duration of each successful probe step (per node for a cluster target).',
    scopeLabels: NODE,
    seriesLabels: ['step'],
  };
  const stepDuration =
    (options.stepHistograms ?? true)
      ? registry.addFamily(full ? new HistogramFamily({ ...stepOptions, buckets: LATENCY_BUCKETS_SECONDS }) : new SummaryFamily(stepOptions))
      : undefined;
  const lastSuccess = scalar('gauge', 'redis_probe_last_success_timestamp_seconds', 'When the target last completed a successful cycle (Unix time).', TARGET);
  const clients = scalar('gauge', 'redis_probe_clients', 'Clients connected to the target, from its last CLIENT LIST.', TARGET);
  const certExpiry = scalar('gauge', 'redis_probe_tls_cert_expiry_timestamp_seconds', "The target's TLS server certificate notAfter (Unix time).", TARGET);
  const stepSupported = scalar(
    'gauge',
    'redis_probe_step_supported',
    'Whether the server allows the step (0: refused for lack of permission or support, not counted as failure).',
    TARGET,
    ['step'],
  );
  // Cluster nodes get series of their own names, not a `node` label on redis_probe_success/cycles/failures:
  // there `max by (target)` would hide a failed shard and `sum by (target)` would count a cycle N+1 times.
  const nodeSuccess = scalar(
    'gauge',
    'redis_probe_node_success',
    'Whether the last probe cycle against this cluster primary succeeded (1) or failed (0).',
    NODE,
  );
  const nodeCycles = scalar('counter', 'redis_probe_node_cycles_total', 'Probe cycles run against this cluster primary.', NODE);
  const nodeFailures = scalar(
    'counter',
    'redis_probe_node_cycle_failures_total',
    'Failed probe cycles against this cluster primary by step and reason (each series appears at its first failure).',
    NODE,
    ['step', 'reason'],
  );
  const clusterNodes = scalar('gauge', 'redis_probe_cluster_nodes', 'Primaries of a cluster target in its last cycle, by outcome (ok or failed).', TARGET, [
    'state',
  ]);
  const lateness = new Histogram({
    name: 'redis_probe_scheduler_lateness_seconds',
    help: 'How late cycles started after their planned time.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  // Its label set is the union of every target's static labels (see InfoFamily).
  const targetInfo = registry.addFamily(new InfoFamily({ name: 'redis_probe_target_info', help: 'Static facts about each probed target; always 1.' }));
  const maintenanceEvents = scalar(
    'counter',
    'redis_probe_maintenance_events_total',
    'Azure maintenance notifications received on AzureRedisEvents, by normalised type (unknown and malformed included).',
    TARGET,
    ['event'],
  );
  // Per target, so burn rates and error budgets in the rules use each target's own objective.
  const slaObjective = scalar('gauge', 'redis_probe_sla_objective', "The target's availability objective as a ratio (sla.objective / 100).", TARGET);
  const maintenanceInProgress = scalar(
    'gauge',
    'redis_probe_maintenance_in_progress',
    'Whether Azure announced planned maintenance of the target that has not ended (1), else 0.',
    TARGET,
  );
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
      // With detail: full, zero-valued from the start so increase() sees the first notification of each type;
      // by default a type's series appears with its first notification (8 series per Azure target saved), and
      // redis_probe_maintenance_in_progress, always present, carries the planned maintenance itself.
      if (full) for (const event of MAINTENANCE_EVENT_LABELS) maintenanceEvents.series({ ...labels, event });
      const inProgress = maintenanceInProgress.series(labels);
      return {
        recordEvent: (event) => maintenanceEvents.series({ ...labels, event }).inc(),
        setInProgress: (value) => inProgress.set(value ? 1 : 0),
        remove() {
          maintenanceEvents.remove(labels);
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
      const cyclesSeries = cycles.series(labels);
      const skippedSeries = skipped.series(labels);
      if (preinitialiseFailures) {
        for (const step of steps) failuresByStep.series({ ...labels, step });
        if (full) for (const step of steps) for (const reason of FAILURE_REASONS) failures.series({ ...labels, step, reason });
        else for (const reason of FAILURE_REASONS) failures.series({ ...labels, reason });
      }
      for (const step of target.steps) stepSupported.series({ ...labels, step }).set(1);
      targetInfo.set(target.name, { ...target.labels, target: target.name, host: target.host, port: String(target.port), tls: String(target.tls.enabled) });
      slaObjective.series(labels).set(target.sla.objective);
      // The rest appear with their first value; each is looked up once, not on every cycle.
      const successSeries = lazySeries(success, labels);
      const cycleDurationSeries = lazySeries(cycleDuration, labels);
      const lastSuccessSeries = lazySeries(lastSuccess, labels);
      const clientsSeries = lazySeries(clients, labels);
      const certExpirySeries = lazySeries(certExpiry, labels);
      const stepSeries = new Map<Step, HistogramSeries>();
      const observeStep = (step: Step, seconds: number): void => {
        if (!stepDuration) return;
        let series = stepSeries.get(step);
        if (!series) {
          series = stepDuration.series({ ...labels, step });
          stepSeries.set(step, series);
        }
        series.observe(seconds);
      };
      /** Per node of a cluster target, removed with all its series when the node leaves. */
      const nodes = new Set<string>();
      const removeNode = (node: string): void => {
        const nodeLabels = { ...labels, node };
        nodes.delete(node);
        for (const family of [nodeSuccess, nodeCycles, nodeFailures, stepDuration]) family?.remove(nodeLabels);
      };
      const unsupportedSteps = new Set<Step>();
      const CLUSTER_STATES = ['ok', 'failed'] as const;
      if (target.cluster) for (const state of CLUSTER_STATES) clusterNodes.series({ ...labels, state });
      const recordTarget = (result: CycleResult, observeSteps: boolean): void => {
        cyclesSeries.inc();
        successSeries().set(result.success ? 1 : 0);
        if (result.failure) {
          // Without `step` among its label names, the family leaves the step out of the series.
          failures.series({ ...labels, step: result.failure.step, reason: result.failure.reason }).inc();
          failuresByStep.series({ ...labels, step: result.failure.step }).inc();
        }
        if (observeSteps) for (const timing of result.steps) observeStep(timing.step, timing.durationMs / 1000);
        if (result.success) {
          cycleDurationSeries().observe(result.durationMs / 1000);
          lastSuccessSeries().set((result.startedAtMs + result.durationMs) / 1000);
        }
        if (result.observations.clientCount !== undefined) clientsSeries().set(result.observations.clientCount);
        if (result.observations.serverCertNotAfterMs !== undefined) certExpirySeries().set(result.observations.serverCertNotAfterMs / 1000);
        // Written only when a step's support changes: a label lookup per step per cycle adds up over thousands of targets.
        if (result.unsupportedSteps.length === 0 && unsupportedSteps.size === 0) return;
        for (const step of target.steps) {
          const supported = !result.unsupportedSteps.includes(step);
          if (supported === unsupportedSteps.has(step)) {
            stepSupported.series({ ...labels, step }).set(supported ? 1 : 0);
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
          clusterNodes.series({ ...labels, state: 'ok' }).set(ok);
          clusterNodes.series({ ...labels, state: 'failed' }).set(nodeResults.length - ok);
          const present = new Set<string>();
          for (const result of nodeResults) {
            const node = result.node ?? '';
            present.add(node);
            nodes.add(node);
            const nodeLabels = { ...labels, node };
            nodeCycles.series(nodeLabels).inc();
            nodeSuccess.series(nodeLabels).set(result.success ? 1 : 0);
            if (result.failure) nodeFailures.series({ ...nodeLabels, step: result.failure.step, reason: result.failure.reason }).inc();
            for (const timing of result.steps) stepDuration?.series({ ...nodeLabels, step: timing.step }).observe(timing.durationMs / 1000);
          }
          // Every cycle probes every known primary, so a node missing here has left the cluster (or failed over).
          for (const node of [...nodes]) if (!present.has(node)) removeNode(node);
        },
        recordSkipped: () => skippedSeries.inc(),
        remove() {
          for (const node of [...nodes]) removeNode(node);
          for (const family of [
            success,
            cycles,
            skipped,
            failures,
            failuresByStep,
            cycleDuration,
            stepDuration,
            lastSuccess,
            clients,
            certExpiry,
            stepSupported,
            clusterNodes,
            slaObjective,
          ]) {
            family?.remove(labels);
          }
          targetInfo.delete(target.name);
        },
      };
    },
  };
}

/** A series created on first use, then reused: the label text is worked out once. */
function lazySeries<Series>(family: { series(values: LabelValues): Series }, values: LabelValues): () => Series {
  let series: Series | undefined;
  return () => (series ??= family.series(values));
}
