import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { HistogramFamily, InfoFamily, ScalarFamily, SummaryFamily } from '../../src/metrics/families.ts';
import type { LabelValues } from '../../src/metrics/families.ts';
import { renderMetrics } from '../../src/metrics/render.ts';

/*
 * The compact families must write what prom-client writes for the same series: each operation below is
 * applied to a family and to the prom-client metric of the same name and labels, and the two texts must
 * hold the same lines. (Series order may differ: a family groups a target's series; Prometheus does not care.)
 */

const BUCKETS = [0.0005, 0.001, 0.25, 1, 5];
const TARGETS = ['a', 'b', 'with "quote"', 'back\\slash', 'new\nline', ''];
const NODES = [undefined, '10.0.0.1:7000', '10.0.0.2:7001'];
const STEPS = ['ping', 'set', 'client_list'];

type Operation =
  | { readonly kind: 'inc' | 'set' | 'observe'; readonly target: string; readonly node: string | undefined; readonly step: string; readonly value: number }
  | { readonly kind: 'removeScope' | 'removeSeries'; readonly target: string; readonly node: string | undefined; readonly step: string };

const operation: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constantFrom('inc', 'set', 'observe', 'observe', 'removeScope', 'removeSeries'),
  target: fc.constantFrom(...TARGETS),
  node: fc.constantFrom(...NODES),
  step: fc.constantFrom(...STEPS),
  value: fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.constantFrom(0, 0.0005, 1, 5, 7.25, 1e-7, 1e21)),
});

/** Both sides of the comparison: four families and their prom-client twins. */
function pair(location: string | undefined) {
  const reference = new Registry();
  if (location !== undefined) reference.setDefaultLabels({ location });
  const registers = [reference];
  const labelNames = ['target', 'node', 'step'];
  const options = { scopeLabels: ['target', 'node'], seriesLabels: ['step'] };
  return {
    reference,
    defaults: location !== undefined ? { location } : ({} as Readonly<Record<string, string>>),
    counter: {
      ours: new ScalarFamily({ type: 'counter', name: 'c_total', help: 'A counter.', ...options }),
      theirs: new Counter({ name: 'c_total', help: 'A counter.', labelNames, registers }),
    },
    gauge: {
      ours: new ScalarFamily({ type: 'gauge', name: 'g', help: 'A gauge.', ...options }),
      theirs: new Gauge({ name: 'g', help: 'A gauge.', labelNames, registers }),
    },
    histogram: {
      ours: new HistogramFamily({ name: 'h_seconds', help: 'A histogram.', buckets: BUCKETS, ...options }),
      theirs: new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames, buckets: BUCKETS, registers }),
    },
    summary: {
      ours: new SummaryFamily({ name: 's_seconds', help: 'A summary.', ...options }),
      theirs: new Summary({ name: 's_seconds', help: 'A summary.', labelNames, percentiles: [], registers }),
    },
  };
}

/** prom-client's `remove` needs every label; a family's removes a whole scope too, so the reference removes each series of it. */
function apply(sides: ReturnType<typeof pair>, op: Operation, created: Set<string>): void {
  const scope = { target: op.target, ...(op.node !== undefined ? { node: op.node } : {}) };
  const labels: LabelValues & Record<string, string> = { ...scope, step: op.step };
  const key = (values: Readonly<Record<string, string>>) => JSON.stringify([values.target, values.node, values.step]);
  const removeReference = (match: (values: Record<string, string>) => boolean): void => {
    for (const entry of [...created]) {
      const [target, node, step] = JSON.parse(entry) as [string, string | null, string];
      const values = { target, ...(node !== null ? { node } : {}), step };
      if (!match(values)) continue;
      created.delete(entry);
      for (const metric of [sides.counter.theirs, sides.gauge.theirs, sides.histogram.theirs, sides.summary.theirs]) metric.remove(values);
    }
  };
  switch (op.kind) {
    case 'inc':
      sides.counter.ours.series(labels).inc(op.value);
      sides.counter.theirs.inc(labels, op.value);
      created.add(key(labels));
      // The other two get the series too, so that removing it means the same on every side.
      sides.gauge.ours.series(labels).inc(op.value);
      sides.gauge.theirs.inc(labels, op.value);
      sides.histogram.ours.series(labels).observe(op.value);
      sides.histogram.theirs.observe(labels, op.value);
      sides.summary.ours.series(labels).observe(op.value);
      sides.summary.theirs.observe(labels, op.value);
      return;
    case 'set':
      sides.counter.ours.series(labels);
      sides.counter.theirs.inc(labels, 0);
      sides.gauge.ours.series(labels).set(op.value);
      sides.gauge.theirs.set(labels, op.value);
      sides.histogram.ours.series(labels).observe(op.value);
      sides.histogram.theirs.observe(labels, op.value);
      sides.summary.ours.series(labels).observe(op.value);
      sides.summary.theirs.observe(labels, op.value);
      created.add(key(labels));
      return;
    case 'observe':
      sides.counter.ours.series(labels);
      sides.counter.theirs.inc(labels, 0);
      sides.gauge.ours.series(labels);
      sides.gauge.theirs.inc(labels, 0);
      sides.histogram.ours.series(labels).observe(op.value);
      sides.histogram.theirs.observe(labels, op.value);
      sides.summary.ours.series(labels).observe(op.value);
      sides.summary.theirs.observe(labels, op.value);
      created.add(key(labels));
      return;
    case 'removeSeries':
      for (const family of [sides.counter.ours, sides.gauge.ours, sides.histogram.ours, sides.summary.ours]) family.remove(labels);
      removeReference((values) => key(values) === key(labels));
      return;
    case 'removeScope':
      for (const family of [sides.counter.ours, sides.gauge.ours, sides.histogram.ours, sides.summary.ours]) family.remove(scope);
      removeReference((values) => values.target === op.target && values.node === op.node);
      return;
  }
}

const sortedLines = (text: string): string[] => text.split('\n').sort();

describe('compact metric families', () => {
  for (const location of [undefined, 'west"europe']) {
    it(`write the lines prom-client writes for the same operations (location ${location ?? 'unset'})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: 60 }), async (operations) => {
          const sides = pair(location);
          const created = new Set<string>();
          for (const op of operations) apply(sides, op, created);
          const ours = await renderMetrics(new Registry(), {
            defaultLabels: sides.defaults,
            families: [sides.counter.ours, sides.gauge.ours, sides.histogram.ours, sides.summary.ours],
            linesPerSlice: 5,
          });
          assert.deepEqual(sortedLines(ours), sortedLines(await sides.reference.metrics()));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('counts a value on a bound into that bucket and one past the last bound only into +Inf', async () => {
    const family = new HistogramFamily({ name: 'h', help: 'h', scopeLabels: ['target'], buckets: [1, 2] });
    const series = family.series({ target: 't' });
    for (const value of [1, 2, 2.5]) series.observe(value);
    const text = await renderMetrics(new Registry(), { defaultLabels: {}, families: [family] });
    assert.deepEqual(text.split('\n').slice(2, 7), [
      'h_bucket{le="1",target="t"} 1',
      'h_bucket{le="2",target="t"} 2',
      'h_bucket{le="+Inf",target="t"} 3',
      'h_sum{target="t"} 5.5',
      'h_count{target="t"} 3',
    ]);
  });

  it('refuses a series without a scope, and removes a scope with every series in it', async () => {
    const family = new ScalarFamily({ type: 'gauge', name: 'g', help: 'g', scopeLabels: ['target'], seriesLabels: ['step'] });
    assert.throws(() => family.series({ step: 'ping' }), /g: a series needs a value for one of target/);
    for (const step of STEPS) family.series({ target: 'a', step }).set(1);
    family.series({ target: 'b', step: 'ping' }).set(2);
    assert.equal(family.size, 4);
    family.remove({ target: 'a' });
    assert.equal(family.size, 1);
    family.remove({ target: 'b', step: 'ping' });
    assert.equal(family.size, 0);
    assert.equal(await renderMetrics(new Registry(), { defaultLabels: {}, families: [family] }), '# HELP g g\n# TYPE g gauge\n');
  });

  it('write an info gauge as a prom-client gauge over the union of label names would, as series come and go', async () => {
    const change = fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'with "quote"'),
      labels: fc.option(fc.dictionary(fc.constantFrom('team', 'zone', 'tier'), fc.constantFrom('x', 'y', 'back\\slash', ''))),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 30 }), fc.constantFrom(undefined, 'west"europe'), async (changes, location) => {
        const family = new InfoFamily({ name: 'info', help: 'Info.' });
        const present = new Map<string, Record<string, string>>();
        for (const { key, labels } of changes) {
          if (labels === null) {
            family.delete(key);
            present.delete(key);
          } else {
            family.set(key, { ...labels, target: key });
            present.set(key, { ...labels, target: key });
          }
          // Renders between changes too: a series' text is cached per label set.
          if (key === 'c') await renderMetrics(new Registry(), { defaultLabels: {}, families: [family] });
        }
        const reference = new Registry();
        if (location !== undefined) reference.setDefaultLabels({ location });
        const labelNames = [...new Set([...present.values()].flatMap((labels) => Object.keys(labels)))].sort();
        const gauge = new Gauge({ name: 'info', help: 'Info.', labelNames, registers: [reference] });
        for (const labels of present.values()) gauge.set(Object.fromEntries(labelNames.map((name) => [name, labels[name] ?? ''])), 1);
        const defaultLabels: Readonly<Record<string, string>> = location !== undefined ? { location } : {};
        const ours = await renderMetrics(new Registry(), { defaultLabels, families: [family], linesPerSlice: 2 });
        // Without series, prom-client would write an unlabelled `info 0`: an info gauge has no such series.
        if (present.size === 0) assert.equal(ours, '# HELP info Info.\n# TYPE info gauge\n');
        else assert.deepEqual(sortedLines(ours), sortedLines(await reference.metrics()));
        assert.equal(family.size, present.size);
      }),
      { numRuns: 150 },
    );
  });
});
