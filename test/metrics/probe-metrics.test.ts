import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { targetConfig } from '../support/target-config.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';

const success: CycleResult = {
  target: 'a',
  trigger: 'schedule',
  startedAtMs: 1_700_000_000_000,
  durationMs: 1.5,
  success: true,
  steps: [
    { step: 'ping', durationMs: 0.3 },
    { step: 'set', durationMs: 0.7 },
  ],
  unsupportedSteps: ['client_list'],
  observations: { clientCount: 1, serverCertNotAfterMs: 1_800_000_000_000 },
};
const failure: CycleResult = {
  ...success,
  success: false,
  steps: [],
  unsupportedSteps: [],
  observations: {},
  failure: { step: 'connect', reason: 'tls', message: 'x' },
};

describe('metrics', () => {
  it('follows a step between refused and supported, cycle by cycle', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    const supportOf = async () => {
      const text = await metrics.registry.metrics();
      return ['ping', 'client_list'].map((step) => sampleValue(text, 'redis_probe_step_supported', { target: 'a', step }));
    };
    assert.deepEqual(await supportOf(), [1, 1], 'supported until refused');
    const seen = [];
    for (const unsupportedSteps of [['client_list'], ['client_list'], [], ['client_list', 'ping']] as const) {
      target.record({ ...success, unsupportedSteps });
      seen.push(await supportOf());
    }
    assert.deepEqual(seen, [
      [1, 0],
      [1, 0],
      [1, 1],
      [0, 0],
    ]);
  });

  it('turns results into the contract series, on a registry of its own', async () => {
    // full: the step × reason series and the fine buckets (series-budget and metrics-options cover standard).
    const metrics = createProbeMetrics({ version: '1.2.3', defaultMetrics: false, detail: 'full' });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1, labels: { team: 'x' } }), { authenticated: true });
    metrics.registerTarget(targetConfig({ name: 'b', port: 2, labels: { zone: 'z' } }), { authenticated: false });
    target.record(success);
    target.record(failure);
    target.recordSkipped();
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'a' }), 2);
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'a' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'connect', reason: 'tls' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'auth', reason: 'token' }), 0);
    assert.equal(
      sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'b', step: 'auth', reason: 'auth' }),
      undefined,
      'no auth step without a credential',
    );
    assert.equal(
      sampleValue(text, 'redis_probe_step_duration_seconds_bucket', { target: 'a', step: 'ping', le: '0.0005' }),
      1,
      '0.3 ms lands in the first bucket',
    );
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_bucket', { target: 'a', step: 'set', le: '0.0005' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_count', { target: 'a' }), 1, 'failed cycles are not latency samples');
    assert.equal(sampleValue(text, 'redis_probe_last_success_timestamp_seconds', { target: 'a' }), 1_700_000_000.0015);
    assert.equal(sampleValue(text, 'redis_probe_clients', { target: 'a' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_tls_cert_expiry_timestamp_seconds', { target: 'a' }), 1_800_000_000);
    assert.equal(sampleValue(text, 'redis_probe_step_supported', { target: 'a', step: 'client_list' }), 1, 'the later failed cycle did not see it refused');
    assert.equal(sampleValue(text, 'redis_probe_cycles_skipped_total', { target: 'a' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_target_info', { target: 'a', team: 'x', zone: '' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_target_info', { target: 'b', zone: 'z', team: '' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_build_info', { version: '1.2.3' }), 1);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });

  it('removes every series of a target that leaves', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(targetConfig({ name: 'gone', port: 1 }), { authenticated: true });
    target.record(success);
    target.remove();
    const text = await metrics.registry.metrics();
    assert.ok(
      !text.includes('target="gone"'),
      text
        .split('\n')
        .filter((line) => line.includes('gone'))
        .join('\n'),
    );
  });

  it('drops the misnamed _total gauges of the default Node metrics and passes promtool', async () => {
    const metrics = createProbeMetrics({ version: '1' });
    const text = await metrics.registry.metrics();
    assert.ok(!/^nodejs_active_(handles|requests|resources)_total /m.test(text));
    assert.ok(text.includes('nodejs_active_handles{'), 'the per-type gauge stays');
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });
});
