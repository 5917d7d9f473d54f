import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TargetConfig } from './config/types.ts';
import { FAILURE_REASONS } from './probe-result.ts';
import type { CycleResult, Step } from './probe-result.ts';

/** Histogram buckets fit for a cache: healthy steps take well under a millisecond on a LAN. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * prom-client's default collectors add `nodejs_active_{handles,requests,resources}_total` gauges, which
 * `promtool check metrics` rejects (`_total` is for counters). Each is the sum of a `{type}`-labelled
 * gauge that stays, so dropping them loses nothing.
 */
const GAUGES_MISNAMED_AS_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The metrics of one target; the probe never sees these, a sink feeds them results. */
export interface TargetMetrics {
  record(result: CycleResult): void;
  recordSkipped(): void;
  /** Deletes every series of the target (it left the config). */
  remove(): void;
}

/** The daemon's metrics, on a registry of its own. */
export interface ProbeMetrics {
  readonly registry: Registry;
  registerTarget(target: TargetConfig, options: { readonly authenticated: boolean }): TargetMetrics;
  observeLateness(latenessMs: number): void;
}

export function createProbeMetrics(options: { version: string; defaultMetrics?: boolean }): ProbeMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
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
  const stepDuration = new Histogram({
    name: 'redis_probe_step_duration_seconds',
    help: 'Duration of each successful probe step.',
    labelNames: ['target', 'step'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const lastSuccess = new Gauge({ name: 'redis_probe_last_success_timestamp_seconds', help: 'When the target last completed a successful cycle (Unix time).', labelNames: ['target'], registers });
  const clients = new Gauge({ name: 'redis_probe_clients', help: 'Clients connected to the target, from its last CLIENT LIST.', labelNames: ['target'], registers });
  const certExpiry = new Gauge({ name: 'redis_probe_tls_cert_expiry_timestamp_seconds', help: "The target's TLS server certificate notAfter (Unix time).", labelNames: ['target'], registers });
  const stepSupported = new Gauge({
    name: 'redis_probe_step_supported',
    help: 'Whether the server allows the step (0: refused for lack of permission or support, not counted as failure).',
    labelNames: ['target', 'step'],
    registers,
  });
  const lateness = new Histogram({
    name: 'redis_probe_scheduler_lateness_seconds',
    help: 'How late cycles started after their planned time.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const targetInfo = createTargetInfo(registry);

  return {
    registry,
    observeLateness: (latenessMs) => lateness.observe(latenessMs / 1000),
    registerTarget(target, { authenticated }) {
      const labels = { target: target.name };
      const steps: Step[] = ['connect', ...(authenticated ? (['auth'] as const) : []), ...target.steps];
      // Zero-valued series from the start, so rate() and increase() see the first failure.
      cycles.inc(labels, 0);
      skipped.inc(labels, 0);
      for (const step of steps) for (const reason of FAILURE_REASONS) failures.inc({ ...labels, step, reason }, 0);
      for (const step of target.steps) stepSupported.set({ ...labels, step }, 1);
      targetInfo.add(target);
      const successChild = success.labels(labels);
      const cyclesChild = cycles.labels(labels);
      const stepChildren = new Map(steps.map((step) => [step, stepDuration.labels({ ...labels, step })]));
      return {
        record(result) {
          cyclesChild.inc();
          successChild.set(result.success ? 1 : 0);
          if (result.failure) failures.inc({ ...labels, step: result.failure.step, reason: result.failure.reason });
          for (const timing of result.steps) stepChildren.get(timing.step)?.observe(timing.durationMs / 1000);
          if (result.success) {
            cycleDuration.observe(labels, result.durationMs / 1000);
            lastSuccess.set(labels, (result.startedAtMs + result.durationMs) / 1000);
          }
          if (result.observations.clients) clients.set(labels, result.observations.clients.length);
          if (result.observations.serverCertNotAfterMs !== undefined) {
            certExpiry.set(labels, result.observations.serverCertNotAfterMs / 1000);
          }
          for (const step of target.steps) stepSupported.set({ ...labels, step }, result.unsupportedSteps.includes(step) ? 0 : 1);
        },
        recordSkipped: () => skipped.inc(labels),
        remove() {
          for (const metric of [success, cycles, skipped, cycleDuration, lastSuccess, clients, certExpiry]) metric.remove(labels);
          for (const step of steps) {
            stepDuration.remove({ ...labels, step });
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

  const rebuild = () => {
    registry.removeSingleMetric(NAME);
    const gauge = new Gauge({
      name: NAME,
      help: 'Static facts about each probed target; always 1.',
      labelNames,
      registers: [registry],
    });
    for (const info of infos.values()) {
      gauge.set(Object.fromEntries(labelNames.map((label) => [label, info[label] ?? ''])), 1);
    }
  };

  return {
    add(target: TargetConfig) {
      infos.set(target.name, {
        ...target.labels,
        target: target.name,
        host: target.host,
        port: String(target.port),
        tls: String(target.tls.enabled),
      });
      labelNames = [...new Set([...infos.values()].flatMap((info) => Object.keys(info)))].sort();
      rebuild();
    },
    remove(name: string) {
      infos.delete(name);
      rebuild();
    },
  };
}
