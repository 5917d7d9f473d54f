import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { DefaultLabelPairs, LineSink, MetricFamily } from './families.ts';
import { escapeLabelValue, escapeText, valueText } from './text.ts';

/*
 * A render of 1,000 targets (~190,000 sample lines) is tens of ms of CPU (npm run bench, `render`); done in
 * one block, no cycle would start and replies in flight would wait meanwhile, inflating the step latencies
 * they report (prom-client's own render of the same series held the loop longer still).
 * This writes the exposition in chunks of at most a few thousand lines, yielding to the event loop after
 * each, so the HTTP server can send a chunk while the next is written and the whole text never has to
 * exist at once. prom-client's counters, gauges and histograms are formatted here from their public
 * `get()` (less CPU than prom-client's formatter, which allocates several objects per line); any other
 * type is left to prom-client. The text is byte for byte what `Registry.prototype.metrics` returns for
 * those (test/metrics/render.test.ts); the per-target families (metric-families.ts) follow, each written
 * by itself.
 */

/** Label values attached to every series of the registry (prom-client's default labels). */
export type DefaultLabels = Readonly<Record<string, string>>;

export interface RenderOptions {
  readonly defaultLabels: DefaultLabels;
  /** Families kept outside prom-client, written after the registry's own metrics. */
  readonly families?: readonly MetricFamily[];
  /** Sample lines in a chunk (default 2,000: a few ms of work). */
  readonly linesPerSlice?: number;
  /** How to let the event loop run after a chunk (default: setImmediate, after pending I/O). */
  readonly yieldToLoop?: () => Promise<void>;
}

const LINES_PER_SLICE = 2_000;
/**
 * A chunk also closes at this many characters: V8 puts a string over 128 KB straight into the old
 * generation, so larger chunks would count against the heap's growth limit and bring full GCs forward;
 * smaller ones die young (npm run bench, footprint).
 */
const MAX_CHUNK_CHARS = 64 * 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type LabelValue = string | number | undefined;
type Labels = Readonly<Record<string, LabelValue>>;

/**
 * The Prometheus text exposition (0.0.4) of every metric, in chunks that each end with a newline. Put
 * together they read as prom-client's `registry.metrics()`: one blank line between metrics.
 */
export async function* renderMetricChunks(registry: Registry, options: RenderOptions): AsyncGenerator<string, void, void> {
  const linesPerSlice = options.linesPerSlice ?? LINES_PER_SLICE;
  const yieldToLoop = options.yieldToLoop ?? nextTurn;
  const defaults = Object.entries(options.defaultLabels);
  const sink: LineSink = { text: '', lines: 0 };
  const full = (): boolean => sink.lines >= linesPerSlice || sink.text.length >= MAX_CHUNK_CHARS;
  const take = (): string => {
    const chunk = sink.text;
    sink.text = '';
    sink.lines = 0;
    return chunk;
  };
  let started = false;
  /** A blank line between two metrics. */
  const separate = (): void => {
    if (started) sink.text += '\n';
    started = true;
  };
  const header = (name: string, help: string, type: string): void => {
    separate();
    sink.text += `# HELP ${escapeText(name)} ${escapeText(help)}\n# TYPE ${escapeText(name)} ${type}\n`;
  };

  for (const { name } of registry.getMetricsAsArray()) {
    const metric = registry.getSingleMetric(name);
    // Removed since the list was read, during an earlier chunk's wait.
    if (!metric) continue;
    const type = metric instanceof Counter ? 'counter' : metric instanceof Gauge ? 'gauge' : metric instanceof Histogram ? 'histogram' : undefined;
    if (type === undefined) {
      separate();
      sink.text += `${await registry.getSingleMetricAsString(name)}\n`;
      continue;
    }
    const data = await metric.get();
    header(data.name, data.help, type);
    for (const value of data.values) {
      if (full()) {
        yield take();
        await yieldToLoop();
      }
      const metricName = 'metricName' in value && value.metricName !== undefined ? value.metricName : data.name;
      sink.text += `${metricName}${labelText(value.labels, defaults, type === 'histogram')} ${valueText(value.value)}\n`;
      sink.lines += 1;
    }
  }
  for (const family of options.families ?? []) {
    header(family.name, family.help, family.type);
    // A scope's lines at a time: a target's series are never split across two chunks' worth of waiting.
    const scopes = family.lines(defaults, sink);
    while (!scopes.next().done) {
      if (full()) {
        yield take();
        await yieldToLoop();
      }
    }
  }
  // A registry with nothing in it still writes a newline, as prom-client does.
  if (sink.text !== '') yield take();
  else if (!started) yield '\n';
}

/** The whole exposition as one string (tests, and callers that cannot stream). */
export async function renderMetrics(registry: Registry, options: RenderOptions): Promise<string> {
  let text = '';
  for await (const chunk of renderMetricChunks(registry, options)) text += chunk;
  return text;
}

/**
 * `{a="1",b="2"}` in prom-client's order: a series' own labels, then the default labels it does not
 * set itself. A histogram line (labels splayed by get()) is the exception: prom-client writes its
 * `le` first, then the default labels, then the series labels.
 */
function labelText(labels: Labels, defaults: DefaultLabelPairs, histogram: boolean): string {
  let text = '';
  const add = (name: string, value: LabelValue): void => {
    text += `${text === '' ? '' : ','}${name}="${typeof value === 'string' ? escapeLabelValue(value) : String(value)}"`;
  };
  if (histogram && labels.le !== undefined) add('le', labels.le);
  if (!histogram) for (const name in labels) add(name, labels[name]);
  for (const [name, value] of defaults) if (!(name in labels)) add(name, value);
  if (histogram) for (const name in labels) if (name !== 'le') add(name, labels[name]);
  return text === '' ? '' : `{${text}}`;
}
