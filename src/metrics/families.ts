import { escapeLabelValue, valueText } from './text.ts';

/*
 * Compact storage for the per-target metric families, the ones whose series grow with the number of targets.
 * prom-client keeps each series as a labels object, a hash key and (for a histogram) a bucket object keyed by
 * bound, then copies all of them into fresh objects on every scrape. Here a series is a number (or a
 * histogram's bucket counts) in its scope's array, next to label text rendered once: a scope (a target, or a
 * target's cluster node) owns its `target="a"` text, and the labels within it (step, reason, …) come from a
 * small vocabulary whose text every scope shares. The text written is the Prometheus exposition prom-client
 * writes for the same series (test/metrics/families.test.ts compares the two).
 *
 * Why this and render.ts still exist beside prom-client, even with the smaller default layout: a scrape of 1,000
 * targets must render quickly (issue 15 sets the bar), and prom-client's registry.metrics() copies every series
 * into fresh objects on each scrape, which is what misses it. The `render` section of `npm run bench` renders
 * the same default-layout series both ways (bench/prom-client-twin.ts is the prom-client twin); the committed
 * runs, bench/results/README.md, hold the figures.
 */

/** Label values by label name; an absent or undefined value leaves the label out, as prom-client does. */
export type LabelValues = Readonly<Record<string, string | undefined>>;

/** Label pairs every series also carries (prom-client's default labels), in the registry's order. */
export type DefaultLabelPairs = readonly (readonly [string, string])[];

/**
 * Where sample lines go: appended to one string, each with its newline (V8 builds that faster than an
 * array of lines joined), and counted so the writer knows when a chunk is full.
 */
export interface LineSink {
  text: string;
  lines: number;
}

export interface FamilyOptions {
  readonly name: string;
  readonly help: string;
  /** Labels naming a scope, whose series are created and removed together (the target; a cluster node). */
  readonly scopeLabels: readonly string[];
  /** Labels of the series within a scope; their values come from a small fixed vocabulary (steps, reasons). */
  readonly seriesLabels?: readonly string[];
}

/** `,name="value"` for each present label, in the order of `names`. */
function labelText(names: readonly string[], values: LabelValues): string {
  let text = '';
  for (const name of names) {
    const value = values[name];
    if (value !== undefined) text += `,${name}="${escapeLabelValue(value)}"`;
  }
  return text;
}

/** The label text of a series within its scope; shared by every scope that has a series with these values. */
interface SeriesLabels {
  /** `,step="ping",reason="oom"` (empty for a family without series labels). */
  readonly text: string;
  /** Its index in the family's vocabulary, and so in each scope's series. */
  readonly id: number;
}

/** The series of one scope, by vocabulary id: an array slot each rather than a map entry. */
class Scope<Series> {
  readonly series: (Series | undefined)[] = [];
  count = 0;
  /** `target="a"` or `target="a",node="10.0.0.1:6379"`: no leading comma. */
  readonly head: string;
  constructor(head: string) {
    this.head = head;
  }
}

/**
 * A metric family: its scopes, and the text of every label set seen within them. Subclasses say what a
 * series holds and how it is written.
 */
abstract class Family<Series extends { readonly labels: SeriesLabels }> {
  readonly name: string;
  readonly help: string;
  readonly #scopeLabels: readonly string[];
  readonly #seriesLabels: readonly string[];
  readonly #scopes = new Map<string, Scope<Series>>();
  /** Keyed by the label text itself; bounded by the label values the daemon knows, so never pruned. */
  readonly #vocabulary = new Map<string, SeriesLabels>();
  readonly #labelNames: ReadonlySet<string>;

  constructor(options: FamilyOptions) {
    this.name = options.name;
    this.help = options.help;
    this.#scopeLabels = options.scopeLabels;
    this.#seriesLabels = options.seriesLabels ?? [];
    this.#labelNames = new Set([...this.#scopeLabels, ...this.#seriesLabels]);
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  protected abstract create(labels: SeriesLabels): Series;
  /** The sample lines of one series, given its own labels' text and the default labels' (`,a="1"` each). */
  protected abstract write(series: Series, labelsText: string, defaults: string, sink: LineSink): void;

  /** The series with these label values, created (at zero) if it does not exist. */
  series(values: LabelValues): Series {
    const scope = this.#scope(values);
    const text = labelText(this.#seriesLabels, values);
    let labels = this.#vocabulary.get(text);
    if (!labels) {
      labels = { text, id: this.#vocabulary.size };
      this.#vocabulary.set(text, labels);
    }
    let series = scope.series[labels.id];
    if (!series) {
      series = this.create(labels);
      scope.series[labels.id] = series;
      scope.count += 1;
    }
    return series;
  }

  /** Deletes one series (values name a scope and a series in it), or a whole scope (values name a scope only). */
  remove(values: LabelValues): void {
    const key = labelText(this.#scopeLabels, values);
    const scope = this.#scopes.get(key);
    if (!scope) return;
    if (this.#seriesLabels.every((name) => values[name] === undefined)) {
      this.#scopes.delete(key);
      return;
    }
    const labels = this.#vocabulary.get(labelText(this.#seriesLabels, values));
    if (labels && scope.series[labels.id]) {
      scope.series[labels.id] = undefined;
      scope.count -= 1;
    }
    if (scope.count === 0) this.#scopes.delete(key);
  }

  /** Series written so far (sample lines differ for histograms). */
  get size(): number {
    let size = 0;
    for (const scope of this.#scopes.values()) size += scope.count;
    return size;
  }

  /**
   * The family's sample lines, a scope at a time (its lines appended to `sink`), so a caller can yield
   * between scopes. Default labels the family does not set itself follow, as prom-client writes them.
   */
  *lines(defaultLabels: DefaultLabelPairs, sink: LineSink): Generator<void, void, void> {
    const defaults = labelText(
      defaultLabels.filter(([name]) => !this.#labelNames.has(name)).map(([name]) => name),
      Object.fromEntries(defaultLabels),
    );
    for (const scope of this.#scopes.values()) {
      for (const series of scope.series) if (series) this.write(series, `${scope.head}${series.labels.text}`, defaults, sink);
      yield;
    }
  }

  #scope(values: LabelValues): Scope<Series> {
    const key = labelText(this.#scopeLabels, values);
    let scope = this.#scopes.get(key);
    if (!scope) {
      if (key === '') throw new Error(`${this.name}: a series needs a value for one of ${this.#scopeLabels.join(', ')}`);
      scope = new Scope<Series>(key.slice(1));
      this.#scopes.set(key, scope);
    }
    return scope;
  }
}

/** A counter or gauge series. */
export class Scalar {
  value = 0;
  readonly labels: SeriesLabels;
  constructor(labels: SeriesLabels) {
    this.labels = labels;
  }
  inc(by = 1): void {
    this.value += by;
  }
  set(value: number): void {
    this.value = value;
  }
}

export class ScalarFamily extends Family<Scalar> {
  readonly type: 'counter' | 'gauge';
  constructor(options: FamilyOptions & { readonly type: 'counter' | 'gauge' }) {
    super(options);
    this.type = options.type;
  }
  protected create(labels: SeriesLabels): Scalar {
    return new Scalar(labels);
  }
  protected write(series: Scalar, labelsText: string, defaults: string, sink: LineSink): void {
    sink.text += `${this.name}{${labelsText}${defaults}} ${valueText(series.value)}\n`;
    sink.lines += 1;
  }
}

/** A histogram series: a count per bucket (not cumulative: the text adds them up), their sum and count. */
export class HistogramSeries {
  readonly labels: SeriesLabels;
  readonly bounds: readonly number[];
  /** A plain array: it holds small integers unboxed and, unlike a typed array of this size, needs no off-heap buffer. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(labels: SeriesLabels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(value: number): void {
    // The first bucket whose bound the value does not exceed; past the last bound only +Inf counts it.
    const bounds = this.bounds;
    for (let bucket = 0; bucket < bounds.length; bucket++) {
      if (value <= (bounds[bucket] ?? Number.POSITIVE_INFINITY)) {
        this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  /** `name_bucket{le="0.001",` per bound, then +Inf: the same for every series. */
  readonly #bucketPrefixes: readonly string[];

  constructor(options: FamilyOptions & { readonly buckets: readonly number[] }) {
    super(options);
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    this.#bucketPrefixes = [...this.#bounds.map(String), '+Inf'].map((bound) => `${this.name}_bucket{le="${bound}",`);
  }
  protected create(labels: SeriesLabels): HistogramSeries {
    return new HistogramSeries(labels, this.#bounds);
  }
  protected write(series: HistogramSeries, labelsText: string, defaults: string, sink: LineSink): void {
    // prom-client writes a histogram's default labels before the series' own ones, `le` first of all.
    const labels = defaults === '' ? `${labelsText}} ` : `${defaults.slice(1)},${labelsText}} `;
    let text = '';
    let cumulative = 0;
    for (let bucket = 0; bucket < series.counts.length; bucket++) {
      cumulative += series.counts[bucket] ?? 0;
      text += `${this.#bucketPrefixes[bucket] ?? ''}${labels}${cumulative}\n`;
    }
    text += `${this.#bucketPrefixes[series.counts.length] ?? ''}${labels}${series.count}\n`;
    text += `${this.name}_sum{${labels}${valueText(series.sum)}\n`;
    text += `${this.name}_count{${labels}${series.count}\n`;
    sink.text += text;
    sink.lines += series.counts.length + 3;
  }
}

/**
 * A summary without quantiles: each series writes its sum and count only, so `rate(_sum) / rate(_count)`
 * gives a mean in 2 series where a histogram takes its buckets + 3.
 */
export class SummaryFamily extends Family<HistogramSeries> {
  readonly type = 'summary';
  protected create(labels: SeriesLabels): HistogramSeries {
    return new HistogramSeries(labels, []);
  }
  protected write(series: HistogramSeries, labelsText: string, defaults: string, sink: LineSink): void {
    const labels = `{${labelsText}${defaults}} `;
    sink.text += `${this.name}_sum${labels}${valueText(series.sum)}\n${this.name}_count${labels}${series.count}\n`;
    sink.lines += 2;
  }
}

/** One info series: its own labels, and their text as of the label set it was last written with. */
interface InfoSeries {
  readonly labels: Readonly<Record<string, string>>;
  text: string;
  /** The label set `text` was written for; another one means the text is stale. */
  labelSet: number;
}

/**
 * An info gauge (value 1 per series) whose label names are the union of every series' own, as
 * `redis_probe_target_info` carries each target's static labels. A series writes a name it lacks as ""
 * (Prometheus reads that as absent), as a prom-client gauge declared with every name would. Setting or
 * deleting a series is O(its labels): names are counted, never recomputed per change, so a reload that
 * removes N targets is O(N); the union, and the text of the series it changes, are worked out at the next render.
 */
export class InfoFamily {
  readonly type = 'gauge';
  readonly name: string;
  readonly help: string;
  readonly #series = new Map<string, InfoSeries>();
  /** How many series carry each label name. */
  readonly #nameCounts = new Map<string, number>();
  #names: readonly string[] = [];
  #labelSet = 0;
  #namesStale = false;

  constructor(options: { readonly name: string; readonly help: string }) {
    this.name = options.name;
    this.help = options.help;
  }

  /** Creates or replaces the series under `key` (the target's name). */
  set(key: string, labels: Readonly<Record<string, string>>): void {
    this.delete(key);
    this.#series.set(key, { labels, text: '', labelSet: -1 });
    for (const name of Object.keys(labels)) {
      const count = this.#nameCounts.get(name) ?? 0;
      this.#nameCounts.set(name, count + 1);
      if (count === 0) this.#namesStale = true;
    }
  }

  delete(key: string): void {
    const series = this.#series.get(key);
    if (!series) return;
    this.#series.delete(key);
    for (const name of Object.keys(series.labels)) {
      const count = (this.#nameCounts.get(name) ?? 1) - 1;
      if (count > 0) {
        this.#nameCounts.set(name, count);
      } else {
        this.#nameCounts.delete(name);
        this.#namesStale = true;
      }
    }
  }

  get size(): number {
    return this.#series.size;
  }

  /** The sample lines, a series at a time (see Family.lines). */
  *lines(defaultLabels: DefaultLabelPairs, sink: LineSink): Generator<void, void, void> {
    if (this.#namesStale) {
      this.#names = [...this.#nameCounts.keys()].sort();
      this.#labelSet += 1;
      this.#namesStale = false;
    }
    const names = this.#names;
    const own = new Set(names);
    const defaults = labelText(
      defaultLabels.filter(([name]) => !own.has(name)).map(([name]) => name),
      Object.fromEntries(defaultLabels),
    );
    for (const series of this.#series.values()) {
      if (series.labelSet !== this.#labelSet) {
        let text = '';
        for (const name of names) text += `,${name}="${escapeLabelValue(series.labels[name] ?? '')}"`;
        series.text = text;
        series.labelSet = this.#labelSet;
      }
      const labels = `${series.text}${defaults}`.slice(1);
      sink.text += `${this.name}${labels === '' ? '' : `{${labels}}`} 1\n`;
      sink.lines += 1;
      yield;
    }
  }
}

export type MetricFamily = ScalarFamily | HistogramFamily | SummaryFamily | InfoFamily;
