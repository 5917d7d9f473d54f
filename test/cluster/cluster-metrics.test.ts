import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeClusterCycle } from '../../src/cluster/roll-up.ts';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { targetConfig } from '../support/target-config.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';

const T0 = 1_700_000_000_000;
const cluster = targetConfig({ name: 'c', port: 7000, cluster: { natMap: {}, refreshMs: 60_000 } });

function nodeResult(node: string, overrides: Partial<CycleResult> = {}): CycleResult {
  return {
    target: 'c',
    node,
    trigger: 'schedule',
    startedAtMs: T0,
    durationMs: 2,
    success: true,
    steps: [
      { step: 'ping', durationMs: 0.3 },
      { step: 'set', durationMs: 0.4 },
    ],
    unsupportedSteps: [],
    observations: { clientCount: 1 },
    ...overrides,
  };
}
const failed = (node: string, reason: 'clusterdown' | 'connection_refused', step: 'set' | 'connect' = 'set'): CycleResult =>
  nodeResult(node, { success: false, steps: [], observations: {}, failure: { step, reason, message: `${reason} here` } });

/** Lines of the exposition that belong to `name` (histogram suffixes included) and carry `target`. */
function seriesOf(text: string, name: string, target: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(name) && /^[a-z_]+\{/.test(line) && line.includes(`target="${target}"`));
}

describe('cluster metrics: per-node series plus a target roll-up', () => {
  it('leaves single-endpoint series exactly as before: no node label anywhere', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const single = metrics.registerTarget(targetConfig({ name: 's', port: 1 }), { authenticated: false });
    const { node: _node, ...result } = nodeResult('ignored');
    single.record({ ...result, target: 's' });
    const text = await metrics.registry.metrics();
    const lines = text.split('\n').filter((line) => line.includes('target="s"'));
    assert.ok(lines.length > 20);
    assert.deepEqual(
      lines.filter((line) => line.includes('node=')),
      [],
    );
    assert.ok(text.includes('redis_probe_step_duration_seconds_count{target="s",step="ping"} 1'));
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 's' }), undefined);
  });

  it('all nodes green: success 1, one cycle, node series per node, latencies only per node', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, preinitialiseFailures: true });
    const target = metrics.registerTarget(cluster, { authenticated: true });
    target.recordCluster([nodeResult('10.0.0.1:7000'), nodeResult('10.0.0.2:7001', { durationMs: 5 }), nodeResult('10.0.0.3:7002')]);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'c' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'c' }), 1, 'one cluster cycle, not three');
    assert.equal(seriesOf(text, 'redis_probe_cycles_total', 'c').length, 1);
    assert.equal(seriesOf(text, 'redis_probe_success', 'c').length, 1, 'no node series under the target-level name');
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'ok' }), 3);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'failed' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'c', node: '10.0.0.2:7001' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_node_cycles_total', { target: 'c', node: '10.0.0.3:7002' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_count', { target: 'c', node: '10.0.0.1:7000', step: 'ping' }), 1);
    // Every step histogram series of the target carries a node: sum by (target, step, le) counts each node's step once.
    const stepSeries = seriesOf(text, 'redis_probe_step_duration_seconds_count', 'c');
    assert.equal(stepSeries.length, 6);
    assert.ok(
      stepSeries.every((line) => line.includes('node="')),
      stepSeries.join('\n'),
    );
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_sum', { target: 'c' }), 0.005, 'wall time of the slowest node');
    assert.equal(sampleValue(text, 'redis_probe_clients', { target: 'c' }), 3, 'clients add up over the primaries');
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'c', step: 'discover' }), 0, 'discover is pre-initialised');
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });

  it('one node down: the roll-up fails once, with the first failing node step and reason', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(cluster, { authenticated: false });
    target.recordCluster([nodeResult('10.0.0.1:7000'), nodeResult('10.0.0.2:7001'), nodeResult('10.0.0.3:7002')]);
    target.recordCluster([nodeResult('10.0.0.1:7000'), failed('10.0.0.2:7001', 'clusterdown'), failed('10.0.0.3:7002', 'connection_refused', 'connect')]);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'c' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'c' }), 2);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'c', reason: 'clusterdown' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'c', step: 'set' }), 1);
    assert.equal(
      sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'c', reason: 'connection_refused' }),
      undefined,
      'one failure per cluster cycle',
    );
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'c', step: 'connect' }), undefined);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'ok' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'failed' }), 2);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'c', node: '10.0.0.1:7000' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'c', node: '10.0.0.3:7002' }), 0);
    assert.equal(
      sampleValue(text, 'redis_probe_node_cycle_failures_total', { target: 'c', node: '10.0.0.3:7002', step: 'connect', reason: 'connection_refused' }),
      1,
    );
    assert.equal(sampleValue(text, 'redis_probe_node_cycles_total', { target: 'c', node: '10.0.0.3:7002' }), 2);
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_count', { target: 'c' }), 1, 'a partly failed cycle is no latency sample');
  });

  it('removes the series of a node that left, and everything when the target leaves', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(cluster, { authenticated: false });
    target.recordCluster([nodeResult('10.0.0.1:7000'), failed('10.0.0.2:7001', 'connection_refused', 'connect')]);
    target.recordCluster([nodeResult('10.0.0.1:7000'), nodeResult('10.0.0.4:7003')]);
    let text = await metrics.registry.metrics();
    assert.deepEqual(
      text.split('\n').filter((line) => line.includes('10.0.0.2:7001')),
      [],
    );
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'c', node: '10.0.0.4:7003' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'c' }), 1);
    target.remove();
    text = await metrics.registry.metrics();
    assert.deepEqual(
      text.split('\n').filter((line) => line.includes('target="c"')),
      [],
    );
  });

  it('a discovery failure is a target-level failure at its step, with no nodes', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(cluster, { authenticated: false });
    target.recordCluster([nodeResult('10.0.0.1:7000')]);
    const discovery: CycleResult = {
      target: 'c',
      trigger: 'schedule',
      startedAtMs: T0,
      durationMs: 1,
      success: false,
      steps: [{ step: 'connect', durationMs: 0.2 }],
      unsupportedSteps: [],
      observations: {},
      failure: { step: 'discover', reason: 'other', message: 'ERR This instance has cluster support disabled' },
    };
    target.recordCluster([discovery]);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'c', reason: 'other' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'c', step: 'discover' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'ok' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cluster_nodes', { target: 'c', state: 'failed' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_node_success', { target: 'c' }), undefined);
    assert.ok(text.includes('redis_probe_step_duration_seconds_count{target="c",step="connect"} 1'), 'the seed connect still timed');
  });
});

describe('summarizeClusterCycle', () => {
  it('rolls node results into one: wall time, slowest step, summed clients, earliest certificate', () => {
    const { summary, representative } = summarizeClusterCycle([
      nodeResult('a:1', { startedAtMs: T0, durationMs: 3, observations: { clientCount: 0, serverCertNotAfterMs: 2000 } }),
      nodeResult('b:1', {
        startedAtMs: T0 + 1,
        durationMs: 4,
        steps: [{ step: 'ping', durationMs: 0.9 }],
        unsupportedSteps: ['client_list'],
        observations: { serverCertNotAfterMs: 1000 },
      }),
    ]);
    assert.equal(summary.node, undefined);
    assert.equal(summary.success, true);
    assert.equal(summary.durationMs, 5);
    assert.deepEqual(summary.steps, [
      { step: 'ping', durationMs: 0.9 },
      { step: 'set', durationMs: 0.4 },
    ]);
    assert.deepEqual(summary.unsupportedSteps, ['client_list']);
    assert.equal(summary.observations.clientCount, 0);
    assert.equal(summary.observations.serverCertNotAfterMs, 1000);
    assert.equal(representative.node, 'a:1');
  });

  it('fails with the first failing node, named in the message, which also speaks for the state change', () => {
    const { summary, representative } = summarizeClusterCycle([
      nodeResult('a:1'),
      failed('b:1', 'clusterdown'),
      failed('c:1', 'connection_refused', 'connect'),
    ]);
    assert.equal(summary.success, false);
    assert.deepEqual(summary.failure, { step: 'set', reason: 'clusterdown', message: 'b:1: clusterdown here' });
    assert.equal(representative.node, 'b:1');
  });
});
