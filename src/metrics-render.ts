import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/*
 * prom-client renders a registry in one synchronous block: at 1,000 targets (~190,000 sample lines) that
 * is about a third of a second (npm run bench) during which no cycle is started and replies in flight wait,
 * inflating the step latencies they report. This renders the same text in slices, yielding to the event
 * loop between them. Counters, gauges and histograms are formatted here from their public `get()` (less
 * CPU than prom-client's formatter, which allocates several objects per line); any other type is left to
 * prom-client. The text is byte for byte what `Registry.prototype.metrics` returns (test/metrics-render.test.ts).
 */

/** Label values attached to every series of the registry (prom-client's default labels). */
export type DefaultLabels = Readonly<Record<string, string>>;

export interface RenderOptions {
  readonly defaultLabels: DefaultLabels;
  /** Sample lines formatted between two yields (default 2,000: a few ms). */
  readonly linesPerSlice?: number;
  /** How to let the event loop run (default: setImmediate, after pending I/O). */
  readonly yieldToLoop?: () => Promise<void>;
}

const LINES_PER_SLICE = 2_000;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type LabelValue = string | number | undefined;
type Labels = Readonly<Record<string, LabelValue>>;

/** The Prometheus text exposition (0.0.4) of every metric, as prom-client's `registry.metrics()` writes it. */
export async function renderMetrics(registry: Registry, options: RenderOptions): Promise<string> {
  const linesPerSlice = options.linesPerSlice ?? LINES_PER_SLICE;
  const yieldToLoop = options.yieldToLoop ?? nextTurn;
  const defaults = Object.entries(options.defaultLabels);
  const texts: string[] = [];
  let budget = linesPerSlice;
  for (const { name } of registry.getMetricsAsArray()) {
    const metric = registry.getSingleMetric(name);
    // Removed meanwhile (a target left, or redis_probe_target_info was rebuilt under a new label set).
    if (!metric) continue;
    const type = metric instanceof Counter ? 'counter' : metric instanceof Gauge ? 'gauge' : metric instanceof Histogram ? 'histogram' : undefined;
    if (type === undefined) {
      texts.push(await registry.getSingleMetricAsString(name));
      continue;
    }
    // One block per metric: get() copies its series out of prom-client in one go. The budget counts
    // work, so that copy counts too, and a large metric yields before its first line is formatted.
    const data = await metric.get();
    budget -= data.values.length;
    const lines = [`# HELP ${escapeText(data.name)} ${escapeText(data.help)}`, `# TYPE ${escapeText(data.name)} ${type}`];
    const sliced: string[] = [];
    for (const value of data.values) {
      if (budget <= 0) {
        sliced.push(lines.join('\n'));
        lines.length = 0;
        await yieldToLoop();
        budget = linesPerSlice;
      }
      const metricName = 'metricName' in value && value.metricName !== undefined ? value.metricName : data.name;
      const labels = labelText(value.labels, defaults, type === 'histogram');
      lines.push(`${metricName}${labels} ${valueText(value.value)}`);
      budget--;
    }
    sliced.push(lines.join('\n'));
    texts.push(sliced.join('\n'));
  }
  return `${texts.join('\n\n')}\n`;
}

/**
 * `{a="1",b="2"}` in prom-client's order: a series' own labels, then the default labels it does not
 * set itself. A histogram line (labels splayed by get()) is the exception: prom-client writes its
 * `le` first, then the default labels, then the series labels.
 */
function labelText(labels: Labels, defaults: readonly (readonly [string, string])[], histogram: boolean): string {
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

/** As prom-client writes sample values. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value;
}
