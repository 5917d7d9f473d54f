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

describe('metrics.stepHistograms', () => {
  it('defaults to true and resolves false from the config file', () => {
    assert.deepEqual(parse(TARGETS).metrics, { stepHistograms: true, preinitialiseFailures: true });
    assert.deepEqual(parse(`metrics: { stepHistograms: false, preinitialiseFailures: false }\n${TARGETS}`).metrics, { stepHistograms: false, preinitialiseFailures: false });
  });

  it('rejects a non-boolean and unknown keys with their field paths', () => {
    assert.throws(
      () => parse(`metrics: { stepHistograms: "no", histograms: 1 }\n${TARGETS}`),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.some((issue) => issue.startsWith('metrics.stepHistograms: must be true or false')) &&
        error.issues.some((issue) => issue.startsWith('metrics: unknown key "histograms"')),
    );
  });

  it('exports per-step histograms by default', async () => {
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
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'ping', reason: 'timeout' }), 0);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
    target.remove();
    assert.ok(!(await metrics.registry.metrics()).includes('target="a"'), 'remove() still works without step histograms');
  });
});

describe('metrics.preinitialiseFailures', () => {
  const failed: CycleResult = { ...result, success: false, steps: [], failure: { step: 'set', reason: 'oom', message: 'OOM' } };

  it('by default every step × reason failure series exists at 0 from the start', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    metrics.registerTarget(targetConfig({ name: 'a', port: 1 }), { authenticated: false });
    const text = await metrics.registry.metrics();
    assert.equal(sampleValue(text, 'redis_probe_cycle_failures_total', { target: 'a', step: 'get', reason: 'loading' }), 0);
  });

  it('with false a failure series appears at its first failure, and leaves with its target', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, preinitialiseFailures: false });
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
