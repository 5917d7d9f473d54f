/** Text pieces of the Prometheus exposition format (0.0.4), written as prom-client writes them. */

/** A sample value: prom-client writes NaN as `Nan`. */
export function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** HELP text and metric names: backslash and newline escaped. */
export function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, newline and double quote escaped. */
export function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value;
}
