import { parseArgs } from 'node:util';
import { systemClock } from '../shared/clock.ts';
import { createAzureTokenProvider } from '../credentials/azure-token-provider.ts';
import { DEFAULT_CREDIT_TIERS, parseCreditTiers } from './credit-tiers.ts';
import type { CreditTier } from './credit-tiers.ts';
import { SLA_EXIT, SlaError } from './errors.ts';
import { FORMATS, formatCsv, formatJson, formatTable } from './format.ts';
import type { ReportFormat } from './format.ts';
import { resolvePeriod, isoMinute } from './period.ts';
import type { Period } from './period.ts';
import { createPrometheusApi, parsePrometheusUrl } from './prometheus-api.ts';
import type { BearerTokenSource, PrometheusApi, RangeSeries } from './prometheus-api.ts';
import { buildTargetReport } from './report.ts';
import type { TargetMinutes, TargetReport } from './report.ts';
import { attemptsExpr, failureReasonsExpr, failuresExpr, maintenanceExpr, objectiveExpr } from './sli-queries.ts';
import type { SliSelector } from './sli-queries.ts';
import { errorMessage } from '../shared/error-text.ts';

export const SLA_USAGE = `usage: redis-probe sla --prometheus URL [--month YYYY-MM | --from TIME [--to TIME]] [options]

Monthly uptime per target the way Azure counts its SLA, from the Prometheus that scrapes redis-probe.

  --prometheus URL        Prometheus base URL, or an Azure Monitor workspace query endpoint
  --month YYYY-MM         a UTC calendar month (default: this month so far)
  --from TIME --to TIME   any period; RFC 3339 (2026-11-01T00:00:00Z) or Unix seconds; --to defaults to now
  --target NAME           one target only
  --format table|json|csv (default table)
  --job NAME              the scrape job of redis-probe (default redis-probe)
  --objective PERCENT     use this objective for every target instead of redis_probe_sla_objective
  --credit-tiers LIST     UPTIME:CREDIT,... (default objective:10,99:25,95:100)
  --azure-auth SOURCE     Entra token for Azure Monitor: default | workload-identity | managed-identity
  --timeout SECONDS       per Prometheus request (default 60)

exit codes: 0 report written, 2 usage, 3 Prometheus unreachable or refused the query,
            4 no redis-probe series for the target(s) and period, 5 bad time range`;

/** Where the command writes and what it may read: the CLI passes the process's own. */
export interface SlaIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly now: () => number;
}

/** Azure Monitor managed Prometheus' data-plane scope. */
export const AZURE_MONITOR_PROMETHEUS_SCOPE = 'https://prometheus.monitor.azure.com/.default';
const AZURE_AUTH_SOURCES = ['default', 'workload-identity', 'managed-identity'] as const;
type AzureAuthSource = (typeof AZURE_AUTH_SOURCES)[number];

/** query_range returns at most 11,000 points per series; a week of minutes is 10,080. */
const MAX_POINTS_PER_QUERY = 10_000;
const DEFAULT_OBJECTIVE_PERCENT = 99.9;
/** Refresh a bearer token this long before it expires, so a long report never sends a stale one. */
const TOKEN_MARGIN_MS = 60_000;

interface SlaOptions {
  readonly url: string;
  readonly period: Period;
  readonly target?: string;
  readonly format: ReportFormat;
  readonly job: string;
  readonly objectivePercent?: number;
  readonly tiers: readonly CreditTier[];
  readonly azureAuth?: AzureAuthSource;
  readonly timeoutMs: number;
}

/** `redis-probe sla ...`: writes the report and returns the exit code. */
export async function runSla(argv: readonly string[], io: SlaIo): Promise<number> {
  try {
    const options = parseSlaArgs(argv, io.now());
    if (options === 'help') {
      io.stdout.write(`${SLA_USAGE}\n`);
      return SLA_EXIT.ok;
    }
    const api = createPrometheusApi({
      url: options.url,
      timeoutMs: options.timeoutMs,
      ...(options.azureAuth ? { token: azureBearerToken(options.azureAuth) } : {}),
    });
    const reports = await slaReport(api, options);
    io.stdout.write(
      options.format === 'json' ? formatJson(reports) : options.format === 'csv' ? formatCsv(reports) : formatTable(reports, options.period, options.job),
    );
    return SLA_EXIT.ok;
  } catch (error) {
    if (!(error instanceof SlaError)) throw error;
    io.stderr.write(`redis-probe sla: ${error.message}\n${error.kind === 'usage' ? `\n${SLA_USAGE}\n` : ''}`);
    return error.exitCode;
  }
}

function parseSlaArgs(argv: readonly string[], nowMs: number): SlaOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        prometheus: { type: 'string' },
        month: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        target: { type: 'string', short: 't' },
        format: { type: 'string' },
        job: { type: 'string' },
        objective: { type: 'string' },
        'credit-tiers': { type: 'string' },
        'azure-auth': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new SlaError('usage', errorMessage(error));
  }
  if (values.help) return 'help';
  if (values.prometheus === undefined)
    throw new SlaError('usage', '--prometheus URL is required (the Prometheus that scrapes redis-probe, or an Azure Monitor workspace query endpoint)');
  parsePrometheusUrl(values.prometheus);
  if (values.month !== undefined && (values.from !== undefined || values.to !== undefined)) {
    throw new SlaError('usage', 'give either --month or --from/--to, not both');
  }
  if (values.to !== undefined && values.from === undefined) throw new SlaError('usage', '--to needs --from');
  const format = values.format ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format))
    throw new SlaError('usage', `--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  const azureAuth = values['azure-auth'];
  if (azureAuth !== undefined && !(AZURE_AUTH_SOURCES as readonly string[]).includes(azureAuth)) {
    throw new SlaError('usage', `--azure-auth must be one of ${AZURE_AUTH_SOURCES.join(', ')}, got ${JSON.stringify(azureAuth)}`);
  }
  let objectivePercent: number | undefined;
  if (values.objective !== undefined) {
    objectivePercent = Number(values.objective);
    if (!/^\d+(\.\d+)?$/.test(values.objective) || objectivePercent < 50 || objectivePercent >= 100) {
      throw new SlaError('usage', `--objective must be a percentage from 50 to below 100, such as 99.9; got ${JSON.stringify(values.objective)}`);
    }
  }
  const timeoutS = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!(timeoutS > 0)) throw new SlaError('usage', `--timeout must be a number of seconds above 0, got ${JSON.stringify(values.timeout)}`);
  const job = values.job ?? 'redis-probe';
  if (job === '') throw new SlaError('usage', '--job must not be empty');
  return {
    url: values.prometheus,
    period: resolvePeriod(
      {
        ...(values.month !== undefined ? { month: values.month } : {}),
        ...(values.from !== undefined ? { from: values.from } : {}),
        ...(values.to !== undefined ? { to: values.to } : {}),
      },
      nowMs,
    ),
    ...(values.target !== undefined ? { target: values.target } : {}),
    format: format as ReportFormat,
    job,
    ...(objectivePercent !== undefined ? { objectivePercent } : {}),
    tiers: values['credit-tiers'] !== undefined ? parseCreditTiers(values['credit-tiers']) : DEFAULT_CREDIT_TIERS,
    ...(azureAuth !== undefined ? { azureAuth: azureAuth as AzureAuthSource } : {}),
    timeoutMs: timeoutS * 1000,
  };
}

/** Entra tokens for Azure Monitor from @azure/identity, fetched once and renewed before they expire. */
function azureBearerToken(source: AzureAuthSource): BearerTokenSource {
  let provider: ReturnType<typeof createAzureTokenProvider>;
  try {
    provider = createAzureTokenProvider({ source, scope: AZURE_MONITOR_PROMETHEUS_SCOPE }, { clock: systemClock, timeoutMs: 30_000 });
  } catch (error) {
    throw new SlaError('prometheus', `--azure-auth ${source}: ${errorMessage(error)}`);
  }
  let cached: { token: string; expiresAtMs: number } | undefined;
  return async () => {
    if (cached && cached.expiresAtMs - TOKEN_MARGIN_MS > systemClock.now()) return cached.token;
    try {
      cached = await provider.requestToken();
    } catch (error) {
      throw new SlaError('prometheus', `--azure-auth ${source}: no Entra token for ${AZURE_MONITOR_PROMETHEUS_SCOPE}: ${errorMessage(error)}`);
    }
    return cached.token;
  };
}

interface Collected {
  attempts: Map<number, number>;
  failures: Map<number, number>;
  reasons: Map<number, Map<string, number>>;
  maintenance: Set<number>;
  objective?: number;
}

/** Runs the SLI queries over the period, a week at a time, and builds one report per target. */
export async function slaReport(api: PrometheusApi, options: SlaOptions): Promise<TargetReport[]> {
  const { fromMs, toMs } = options.period;
  const totalMinutes = (toMs - fromMs) / 60_000;
  const selector: SliSelector = { job: options.job, by: ['target'], ...(options.target !== undefined ? { target: options.target } : {}) };
  const byTarget = new Map<string, Collected>();
  const collected = (target: string): Collected => {
    let entry = byTarget.get(target);
    if (!entry) {
      entry = { attempts: new Map(), failures: new Map(), reasons: new Map(), maintenance: new Set() };
      byTarget.set(target, entry);
    }
    return entry;
  };
  const fromS = fromMs / 1000;
  // Each point is evaluated at the end of its minute: minute i spans [from + 60·i, from + 60·(i+1)).
  const minuteOf = (timestampS: number): number => Math.round((timestampS - fromS) / 60) - 1;
  const each = (
    series: readonly RangeSeries[],
    visit: (entry: Collected, minute: number, value: number, labels: Readonly<Record<string, string>>) => void,
  ): void => {
    for (const s of series) {
      const target = s.metric['target'];
      if (target === undefined) continue;
      const entry = collected(target);
      for (const [timestampS, text] of s.values) {
        const value = Number(text);
        if (Number.isFinite(value)) visit(entry, minuteOf(timestampS), value, s.metric);
      }
    }
  };

  for (let first = 0; first < totalMinutes; first += MAX_POINTS_PER_QUERY) {
    const last = Math.min(totalMinutes, first + MAX_POINTS_PER_QUERY) - 1;
    const startS = fromS + (first + 1) * 60;
    const endS = fromS + (last + 1) * 60;
    const range = (expr: string): Promise<RangeSeries[]> => api.queryRange(expr, startS, endS, 60);
    const [attempts, failures, reasons, maintenance, objective] = await Promise.all([
      range(attemptsExpr(selector)),
      range(failuresExpr(selector)),
      range(failureReasonsExpr(selector)),
      range(maintenanceExpr(selector)),
      range(objectiveExpr(selector)),
    ]);
    each(attempts, (entry, minute, value) => entry.attempts.set(minute, value));
    each(failures, (entry, minute, value) => entry.failures.set(minute, value));
    each(reasons, (entry, minute, value, labels) => {
      const reason = labels['reason'] ?? 'unknown';
      const perReason = entry.reasons.get(minute) ?? new Map<string, number>();
      perReason.set(reason, (perReason.get(reason) ?? 0) + value);
      entry.reasons.set(minute, perReason);
    });
    each(maintenance, (entry, minute) => entry.maintenance.add(minute));
    // The objective in force at the end of the period is the one reported.
    each(objective, (entry, _minute, value) => (entry.objective = value));
  }

  if (byTarget.size === 0) {
    const what = options.target !== undefined ? `target ${JSON.stringify(options.target)}` : 'any target';
    throw new SlaError(
      'noSeries',
      `Prometheus has no redis_probe_cycles_total{job=${JSON.stringify(options.job)}} for ${what} between ${isoMinute(fromMs)} and ${isoMinute(toMs)}: ` +
        'check --target and --job (the scrape job of redis-probe), that this Prometheus scrapes redis-probe, and that its retention covers the period',
    );
  }
  return [...byTarget.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([target, entry]): TargetMinutes => ({ target, ...entry }))
    .map((data) =>
      buildTargetReport(data, {
        fromMs,
        minutes: totalMinutes,
        tiers: options.tiers,
        defaultObjectivePercent: options.objectivePercent ?? DEFAULT_OBJECTIVE_PERCENT,
        overrideObjective: options.objectivePercent !== undefined,
      }),
    );
}
