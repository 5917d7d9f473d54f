import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { targetConfig } from '../support/target-config.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';

const result: CycleResult = {
  target: 'a',
  trigger: 'schedule',
  startedAtMs: 1_700_000_000_000,
  durationMs: 1.5,
  success: true,
  steps: [
    { step: 'connect', durationMs: 0.4 },
    { step: 'ping', durationMs: 0.3 },
    { step: 'set', durationMs: 0.7 },
  ],
  unsupportedSteps: [],
  observations: {},
};

const parse = (text: string) => parseConfig(text, { env: {}, readFile: () => '', baseDir: '/' });
const TARGETS = 'targets: [{ name: a, host: 127.0.0.1, tls: { enabled: false } }]\n';

describe('metrics.detail', () => {
  it('defaults to standard, whose failure series appear at their first failure; full pre-initialises them', () => {
    assert.deepEqual(parse(TARGETS).metrics, { detail: 'standard', stepHistograms: true, preinitialiseFailures: false });
    assert.deepEqual(parse(`metrics: { detail: full }\n${TARGETS}`).metrics, { detail: 'full', stepHistograms: true, preinitialiseFailures: true });
  });

  it('keeps the older keys as overrides, so the configs that set them still load and mean what they said', () => {
    assert.deepEqual(parse(`metrics: { stepHistograms: false, preinitialiseFailures: false }\n${TARGETS}`).metrics, {
      detail: 'standard',
      stepHistograms: false,
      preinitialiseFailures: false,
    });
    assert.deepEqual(parse(`metrics: { preinitialiseFailures: true }\n${TARGETS}`).metrics, {
      detail: 'standard',
      stepHistograms: true,
      preinitialiseFailures: true,
    });
    assert.deepEqual(parse(`metrics: { detail: full, preinitialiseFailures: false }\n${TARGETS}`).metrics, {
      detail: 'full',
      stepHistograms: true,
      preinitialiseFailures: false,
    });
  });

  it('rejects an unknown detail with its field path and the values it takes', () => {
    assert.throws(
      () => parse(`metrics: { detail: all }\n${TARGETS}`),
      (error: unknown) => error instanceof ConfigError && error.issues.some((issue) => issue.startsWith('metrics.detail: must be standard or full')),
    );
  });

  it('standard: failures by reason and by step apart, per-step latency as sum and count, coarse cycle buckets', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    target.record(result);
    target.record({ ...result, success: false, steps: [], failure: { step: 'set', reason: 'oom', message: 'OOM' } });
    const text = await metrics.registry.metrics();
    assert.ok(!/^redis_probe_cycle_failures_total\{[^}]*step=/m.test(text), 'no step on the reason family');
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', reason: 'oom' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'a', step: 'set' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', reason: 'timeout' }), undefined, 'not pre-initialised');
    assert.match(text, /^# TYPE redis_probe_step_duration_seconds summary$/m);
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_sum', { target: 'a', step: 'set' }), 0.0007);
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_count', { target: 'a', step: 'set' }), 1);
    assert.ok(!text.includes('redis_probe_step_duration_seconds_bucket'));
    const cycleBounds = [...text.matchAll(/^redis_probe_cycle_duration_seconds_bucket\{le="([^"]+)"/gm)].map((match) => match[1]);
    assert.deepEqual(cycleBounds, ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.1', '0.5', '2.5', '+Inf']);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });

  it('full: failures by step × reason from 0, and step and cycle histograms from 0.5 ms to 5 s', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, detail: 'full' });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    target.record(result);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'get', reason: 'loading' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'a', step: 'get' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_bucket', { target: 'a', step: 'ping', le: '0.0005' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_bucket', { target: 'a', le: '0.0005' }), 0);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });
});

describe('metrics.stepHistograms', () => {
  it('rejects a non-boolean and unknown keys with their field paths', () => {
    assert.throws(
      () => parse(`metrics: { stepHistograms: "no", histograms: 1 }\n${TARGETS}`),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.some((issue) => issue.startsWith('metrics.stepHistograms: must be true or false')) &&
        error.issues.some((issue) => issue.startsWith('metrics: unknown key "histograms"')),
    );
  });

  it('exports per-step latency by default', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false }).record(result);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_step_duration_seconds_count', { target: 'a', step: 'ping' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_count', { target: 'a' }), 1);
  });

  it('with stepHistograms false drops the step histogram but keeps the cycle histogram and everything else', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, stepHistograms: false });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    target.record(result);
    const text = await metrics.registry.metrics();
    assert.ok(!text.includes('redis_probe_step_duration_seconds'), 'neither samples nor HELP/TYPE of the step histogram');
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_count', { target: 'a' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_cycle_duration_seconds_bucket', { target: 'a', le: '0.0025' }), 1);
    assert.equal(sampleValue(text, 'redis_probe_success', { target: 'a' }), 1);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
    target.remove();
    assert.ok(!(await metrics.registry.metrics()).includes('target="a"'), 'remove() still works without step histograms');
  });
});

describe('metrics.preinitialiseFailures', () => {
  const failed: CycleResult = { ...result, success: false, steps: [], failure: { step: 'set', reason: 'oom', message: 'OOM' } };

  it('with true every reason and every step series exists at 0 from the start', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, preinitialiseFailures: true });
    metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', reason: 'loading' }), 0);
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_by_step_total', { target: 'a', step: 'client_list' }), 0);
    assert.equal(text.match(/^redis_probe_cycle_failures_total\{/gm)?.length, 17, 'one per reason, not per step × reason');
  });

  it('with false (the default) a failure series appears at its first failure, and leaves with its target', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, detail: 'full', preinitialiseFailures: false });
    const target = metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    assert.ok(!(await metrics.registry.metrics()).includes('redis_probe_cycle_failures_total{'));
    target.record(failed);
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'set', reason: 'oom' }), 1);
    assert.equal(text.match(/^redis_probe_cycle_failures_total\{/gm)?.length, 1);
    assert.equal(sampleValue(text, 'redis_probe_cycles_total', { target: 'a' }), 1, 'cycles are still pre-initialised and counted');
    target.remove();
    assert.ok(!(await metrics.registry.metrics()).includes('target="a"'));
  });
});
