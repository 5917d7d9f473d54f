import { Registry } from 'prom-client';
import { renderMetricChunks, renderMetrics } from './render.ts';
import type { DefaultLabels, RenderOptions } from './render.ts';
import type { MetricFamily } from './families.ts';

/**
 * prom-client's registry for the process-wide metrics, plus the per-target families kept compactly
 * (families.ts). It renders in chunks and yields to the event loop between them (see
 * render.ts), so a scrape of 1,000 targets never blocks the loop for more than a few ms.
 */
export class ProbeRegistry extends Registry {
  #defaultLabels: DefaultLabels = {};
  readonly #families: MetricFamily[] = [];

  override setDefaultLabels(labels: DefaultLabels): void {
    super.setDefaultLabels(labels);
    this.#defaultLabels = { ...labels };
  }

  addFamily<Family extends MetricFamily>(family: Family): Family {
    if (this.#families.some((known) => known.name === family.name) || this.getSingleMetric(family.name)) {
      throw new Error(`A metric with the name ${family.name} has already been registered.`);
    }
    this.#families.push(family);
    return family;
  }

  /** The exposition in chunks; tests pick the slicing, production takes the defaults. */
  chunks(slicing: Pick<RenderOptions, 'linesPerSlice' | 'yieldToLoop'> = {}): AsyncGenerator<string, void, void> {
    return renderMetricChunks(this, { ...slicing, defaultLabels: this.#defaultLabels, families: this.#families });
  }

  override metrics(): Promise<string> {
    return renderMetrics(this, { defaultLabels: this.#defaultLabels, families: this.#families });
  }
}
