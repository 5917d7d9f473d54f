import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { ProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import { renderMetrics } from '../../src/metrics/render.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { targetConfig } from '../support/target-config.ts';
import { promtoolCheckMetrics } from '../support/prometheus-text.ts';

const T0 = 1_700_000_000_000;
const ok = (target: string, node?: string): CycleResult => ({
  target,
  ...(node !== undefined ? { node } : {}),
  trigger: 'schedule',
  startedAtMs: T0,
  durationMs: 1.5,
  success: true,
  steps: [
    { step: 'connect', durationMs: 0.4 },
    { step: 'ping', durationMs: 0.3 },
    { step: 'set', durationMs: 7 },
  ],
  unsupportedSteps: ['client_list'],
  observations: { clientCount: 3, serverCertNotAfterMs: T0 + 1e10 },
});
const failed = (target: string, node?: string): CycleResult => ({
  ...ok(target, node),
  success: false,
  steps: [],
  failure: { step: 'set', reason: 'oom', message: 'OOM' },
});

/** Every kind of series the daemon writes: plain, authenticated and cluster targets, tokens, maintenance, escapes. */
function populate(metrics: ProbeMetrics): void {
  const plain = metrics.registerTarget(targetConfig({ name: 'plain', port: 1, labels: { team: 'a "quoted" \\ back\nslash' } }), { authenticated: false });
  plain.record(ok('plain'));
  plain.record(failed('plain'));
  plain.recordSkipped();
  const authed = metrics.registerTarget(targetConfig({ name: 'authed', port: 2, labels: { zone: 'z' } }), { authenticated: true });
  authed.record(ok('authed'));
  const cluster = metrics.registerTarget(targetConfig({ name: 'c', port: 7000, cluster: { natMap: {}, refreshMs: 60_000 } }), { authenticated: true });
  cluster.recordCluster([ok('c', '10.0.0.1:7000'), failed('c', '10.0.0.2:7001')]);
  const maintenance = metrics.registerMaintenance('plain');
  maintenance.recordEvent('starting');
  maintenance.setInProgress(true);
  const credential = metrics.registerCredential('entra');
  credential.tokenAcquired(T0 + 3_600_000, 120);
  credential.refreshFailed(30_000);
  metrics.observeLateness(3);
  metrics.observeLateness(700);
}

/** prom-client's own rendering, in one synchronous block. */
const promClientText = (registry: Registry): Promise<string> => Registry.prototype.metrics.call(registry);

/** Every chunk of an exposition, put together. */
async function joined(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) {
    assert.ok(chunk.endsWith('\n'), 'a chunk ends with a whole line');
    text += chunk;
  }
  return text;
}

describe('sliced /metrics rendering', () => {
  for (const location of [undefined, 'westeurope', 'quote"and\\back']) {
    for (const layout of [
      { detail: 'standard' as const, stepHistograms: true },
      { detail: 'full' as const, stepHistograms: true },
      { detail: 'standard' as const, stepHistograms: false, preinitialiseFailures: false },
    ]) {
      it(`writes prom-client's metrics as prom-client does, then the families, in any slicing (location ${location ?? 'unset'}, ${JSON.stringify(layout)})`, async () => {
        const metrics = createProbeMetrics({ version: '1.2.3', defaultMetrics: false, ...layout, ...(location !== undefined ? { location } : {}) });
        populate(metrics);
        const text = await metrics.registry.metrics();
        assert.equal(text.includes('redis_probe_step_duration_seconds_bucket'), layout.detail === 'full');
        assert.equal(text.includes('redis_probe_step_duration_seconds_count'), layout.stepHistograms);
        const promClientPart = await promClientText(metrics.registry);
        assert.equal(text.slice(0, promClientPart.length), promClientPart);
        assert.match(text.slice(promClientPart.length), /^\n# HELP redis_probe_success /);
        for (const linesPerSlice of [1, 7, 1_000_000])
          assert.equal(await joined(metrics.registry.chunks({ linesPerSlice })), text, `slices of ${linesPerSlice}`);
        const check = await promtoolCheckMetrics(text);
        assert.equal(check.code, 0, check.output);
      });
    }
  }

  it('follows a location set, changed and dropped at run time, on every series', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    populate(metrics);
    for (const location of ['a', 'b', undefined]) {
      metrics.setLocation(location);
      const samples = (await metrics.registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      assert.ok(samples.length > 100);
      for (const sample of samples) assert.equal(sample.includes(`location="${location}"`), location !== undefined, sample);
    }
  });

  it('writes the default Node metrics like prom-client (values aside, they move between two reads) and passes promtool', async () => {
    const metrics = createProbeMetrics({ version: '1', location: 'l' });
    populate(metrics);
    const shape = (text: string) => text.split('\n').map((line) => (line.startsWith('#') ? line : line.slice(0, line.lastIndexOf(' '))));
    const text = await metrics.registry.metrics();
    const promClientPart = shape(await promClientText(metrics.registry));
    // prom-client's part ends with its newline: one line fewer than the lines it spans in the whole text.
    assert.deepEqual(shape(text).slice(0, promClientPart.length - 1), promClientPart.slice(0, -1));
    assert.match(text, /^process_cpu_user_seconds_total\{location="l"\} /m);
    const check = await promtoolCheckMetrics(text);
    assert.equal(check.code, 0, check.output);
  });

  it('renders labelled and unlabelled counters, gauges and histograms, and leaves other types to prom-client', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ site: 's1' });
    new Counter({ name: 'plain_total', help: 'Help with \\ and\nnewline.', registers: [registry] }).inc(2);
    new Counter({ name: 'overrides_total', help: 'A series that sets a default label itself.', labelNames: ['site', 'x'], registers: [registry] }).inc({
      x: '1',
      site: 'own',
    });
    const gauge = new Gauge({ name: 'odd_values', help: 'NaN and infinities.', labelNames: ['v'], registers: [registry] });
    gauge.set({ v: 'nan' }, Number.NaN);
    gauge.set({ v: 'inf' }, Number.POSITIVE_INFINITY);
    gauge.set({ v: 'minus' }, Number.NEGATIVE_INFINITY);
    gauge.set({ v: 'small' }, 1e-7);
    new Histogram({ name: 'unlabelled_seconds', help: 'No labels of its own.', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
    new Histogram({ name: 'site_seconds', help: 'Sets the default label itself.', labelNames: ['site'], buckets: [1], registers: [registry] }).observe(
      { site: 'own' },
      2,
    );
    new Summary({ name: 'quantiles', help: 'A summary.', labelNames: ['k'], percentiles: [0.5], registers: [registry] }).observe({ k: 'v' }, 3);
    new Gauge({ name: 'empty', help: 'No series yet.', labelNames: ['k'], registers: [registry] });
    const expected = await promClientText(registry);
    for (const linesPerSlice of [1, 3, 1_000]) assert.equal(await renderMetrics(registry, { defaultLabels: { site: 's1' }, linesPerSlice }), expected);
  });

  it('yields to the event loop between slices', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false, detail: 'full' });
    for (let index = 0; index < 50; index++)
      metrics.registerTarget(targetConfig({ name: `t-${index}`, port: 1 }), { authenticated: false }).record(ok(`t-${index}`));
    let yields = 0;
    const text = await joined(
      metrics.registry.chunks({
        linesPerSlice: 100,
        yieldToLoop: () => {
          yields++;
          return Promise.resolve();
        },
      }),
    );
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
    assert.ok(samples > 5_000, `${samples} samples`);
    // A chunk closes after the scope (one target's series of a family, here at most 85 lines) that fills it.
    assert.ok(yields >= Math.floor(samples / (100 + 85)), `${yields} yields for ${samples} samples`);
  });
});
