import { SlaError } from './errors.ts';

/** One series of a range query: its labels and [unix seconds, value] points. */
export interface RangeSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: readonly (readonly [number, string])[];
}

/** Supplies `Authorization: Bearer` tokens (Azure Monitor); absent for a plain Prometheus. */
export type BearerTokenSource = () => Promise<string>;

/** The Prometheus HTTP API as the report uses it. */
export interface PrometheusApi {
  /** `/api/v1/query_range`, every point at `start + k·step` up to `end` (Unix seconds). */
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<RangeSeries[]>;
}

export interface PrometheusApiOptions {
  /** Base URL: a Prometheus (`http://prometheus:9090`) or an Azure Monitor workspace query endpoint. */
  readonly url: string;
  readonly token?: BearerTokenSource;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
}

interface Envelope {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
}

/** Checks the URL up front so that a typo is a usage error, not a network one. */
export function parsePrometheusUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SlaError(
      'usage',
      `--prometheus ${JSON.stringify(text)} is not a URL: give the base URL, e.g. http://prometheus:9090 or https://<workspace>.<region>.prometheus.monitor.azure.com`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SlaError('usage', `--prometheus must be an http:// or https:// URL, got ${url.protocol}`);
  }
  return url;
}

export function createPrometheusApi(options: PrometheusApiOptions): PrometheusApi {
  const base = parsePrometheusUrl(options.url);
  const doFetch = options.fetch ?? fetch;
  const endpoint = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v1/query_range`, base);
  return {
    async queryRange(expr, startS, endS, stepS) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      if (options.token) headers['authorization'] = `Bearer ${await options.token()}`;
      const body = new URLSearchParams({ query: expr, start: String(startS), end: String(endS), step: String(stepS) }).toString();
      let response: Response;
      try {
        // POST: a month of minute-based SLI queries does not fit every proxy's URL limit.
        response = await doFetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
        throw new SlaError(
          'prometheus',
          `cannot reach Prometheus at ${base.origin}: ${cause}; check --prometheus and that the server is up and reachable from here`,
        );
      }
      const text = await response.text();
      if (response.status === 401 || response.status === 403) {
        throw new SlaError(
          'prometheus',
          `${base.origin} refused the query (HTTP ${response.status}): ${options.token ? 'the Entra token was not accepted; the identity needs the "Monitoring Data Reader" role on the Azure Monitor workspace' : 'it needs authentication; for an Azure Monitor workspace add --azure-auth default|workload-identity|managed-identity'}`,
        );
      }
      let envelope: Envelope;
      try {
        envelope = JSON.parse(text) as Envelope;
      } catch {
        throw new SlaError(
          'prometheus',
          `${endpoint.href} answered HTTP ${response.status} without a Prometheus API response; check that --prometheus is the server's base URL (without /api/v1)`,
        );
      }
      if (envelope.status !== 'success') {
        throw new SlaError(
          'prometheus',
          `Prometheus rejected the query (HTTP ${response.status}, ${typeof envelope.errorType === 'string' ? envelope.errorType : 'error'}): ${typeof envelope.error === 'string' ? envelope.error : 'no detail'}`,
        );
      }
      const result = envelope.data?.result;
      if (envelope.data?.resultType !== 'matrix' || !Array.isArray(result)) {
        throw new SlaError(
          'prometheus',
          `Prometheus answered a range query without a matrix; check that --prometheus points at a Prometheus-compatible query API`,
        );
      }
      return (result as { metric?: Record<string, string>; values?: [number, string][] }[]).map((series) => ({
        metric: series.metric ?? {},
        values: series.values ?? [],
      }));
    },
  };
}
