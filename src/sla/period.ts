import { SlaError } from './errors.ts';

const MINUTE_MS = 60_000;

/** The reported period: whole UTC minutes, [fromMs, toMs). */
export interface Period {
  readonly fromMs: number;
  readonly toMs: number;
  /** The end was in the future and was cut at the current minute (a month in progress). */
  readonly truncated: boolean;
}

/** What the command line said about the period. */
export interface PeriodOptions {
  readonly month?: string;
  readonly from?: string;
  readonly to?: string;
}

/** RFC 3339 (`2026-11-01T00:00:00Z`, offsets allowed) or Unix seconds. */
export function parseTime(text: string, option: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const fields = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (fields) {
    const field = (index: number): number => Number(fields[index] ?? 0);
    const month = field(2);
    const day = field(3);
    const daysInMonth = new Date(Date.UTC(field(1), month, 0)).getUTCDate();
    // Date.parse rolls 2026-02-30 over to March 2 and 24:00 to the next day: refuse what does not exist.
    const exists = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && field(4) < 24 && field(5) < 60 && field(7) < 60;
    const ms = Date.parse(text);
    if (exists && Number.isFinite(ms)) return ms;
    throw new SlaError(
      'timeRange',
      `${option} ${JSON.stringify(text)} is not a time: no such date or time of day; use RFC 3339 such as 2026-11-01T00:00:00Z, or Unix seconds`,
    );
  }
  throw new SlaError('timeRange', `${option} ${JSON.stringify(text)} is not a time: use RFC 3339 such as 2026-11-01T00:00:00Z, or Unix seconds`);
}

/** `--month YYYY-MM` (a UTC calendar month, Azure's billing month), `--from/--to`, or this month so far. */
export function resolvePeriod(options: PeriodOptions, nowMs: number): Period {
  let fromMs: number;
  let toMs: number;
  if (options.month !== undefined) {
    const match = /^(\d{4})-(\d{2})$/.exec(options.month);
    const month = match ? Number(match[2]) : 0;
    if (!match || month < 1 || month > 12) {
      throw new SlaError('timeRange', `--month ${JSON.stringify(options.month)} is not a month: use YYYY-MM, e.g. --month 2026-11`);
    }
    fromMs = Date.UTC(Number(match[1]), month - 1, 1);
    toMs = Date.UTC(Number(match[1]), month, 1);
  } else if (options.from !== undefined) {
    fromMs = parseTime(options.from, '--from');
    toMs = options.to !== undefined ? parseTime(options.to, '--to') : nowMs;
  } else {
    const now = new Date(nowMs);
    fromMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    toMs = nowMs;
  }
  // Whole minutes: a minute is the unit of Azure's SLA.
  fromMs = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
  const nowMinuteMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const truncated = toMs > nowMinuteMs;
  toMs = Math.floor(Math.min(toMs, nowMinuteMs) / MINUTE_MS) * MINUTE_MS;
  if (fromMs >= nowMinuteMs) {
    throw new SlaError('timeRange', `the period starts at ${isoMinute(fromMs)}, which has not ended a minute yet: choose an earlier --month or --from`);
  }
  if (fromMs >= toMs) {
    throw new SlaError('timeRange', `--from ${isoMinute(fromMs)} is not before --to ${isoMinute(toMs)}: the period must hold at least one whole minute`);
  }
  return { fromMs, toMs, truncated };
}

/** `2026-11-01T00:00:00Z` */
export function isoMinute(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
