import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { CYCLE_BUCKETS_SECONDS } from '../src/metrics/probe-metrics.ts';
import type { TargetConfig } from '../src/config/types.ts';

/**
 * The per-target series of the standard layout (metrics.detail: standard) kept in plain prom-client
 * metrics and rendered by prom-client's own registry.metrics(), in one block: the alternative to
 * src/metrics/families.ts and render.ts that the `render` phase measures next to them (issue 15).
 * Same names, labels and values as the daemon after one healthy cycle per target.
 */
export function promClientTwin(targets: readonly TargetConfig[]): Registry {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const TARGET = ['target'];
  const gauge = (name: string, labelNames = TARGET) => new Gauge({ name, help: name, labelNames, registers });
  const counter = (name: string, labelNames = TARGET) => new Counter({ name, help: name, labelNames, registers });
  const success = gauge('redis_probe_success');
  const cycles = counter('redis_probe_cycles_total');
  // Failure series appear at a first failure: none after a healthy cycle, but the metrics exist.
  counter('redis_probe_cycle_failures_total', ['target', 'reason']);
  counter('redis_probe_cycle_failures_by_step_total', ['target', 'step']);
  const skipped = counter('redis_probe_cycles_skipped_total');
  const cycleDuration = new Histogram({ name: 'redis_probe_cycle_duration_seconds', help: 'h', labelNames: TARGET, buckets: CYCLE_BUCKETS_SECONDS, registers });
  const stepDuration = new Summary({
    name: 'redis_probe_step_duration_seconds',
    help: 's',
    labelNames: ['target', 'node', 'step'],
    percentiles: [],
    registers,
  });
  const lastSuccess = gauge('redis_probe_last_success_timestamp_seconds');
  const clients = gauge('redis_probe_clients');
  const stepSupported = gauge('redis_probe_step_supported', ['target', 'step']);
  const info = gauge('redis_probe_target_info', ['target', 'host', 'port', 'tls']);
  const objective = gauge('redis_probe_sla_objective');
  for (const target of targets) {
    const labels = { target: target.name };
    cycles.inc(labels);
    skipped.inc(labels, 0);
    success.set(labels, 1);
    cycleDuration.observe(labels, 0.0012);
    for (const step of ['connect', ...target.steps]) stepDuration.observe({ ...labels, step }, 0.00025);
    lastSuccess.set(labels, Date.now() / 1000);
    clients.set(labels, 250);
    for (const step of target.steps) stepSupported.set({ ...labels, step }, 1);
    info.set({ ...labels, host: target.host, port: String(target.port), tls: String(target.tls.enabled) }, 1);
    objective.set(labels, target.sla.objective);
  }
  return registry;
}
