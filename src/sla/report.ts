import { creditPercent, EPSILON } from './credit-tiers.ts';
import type { CreditTier } from './credit-tiers.ts';
import { isoMinute } from './period.ts';

const MINUTE_MS = 60_000;

/** What Prometheus said about one target, minute by minute (index 0 is the period's first minute). */
export interface TargetMinutes {
  readonly target: string;
  /** Cycles attempted; a minute missing here or at 0 is unknown. */
  readonly attempts: ReadonlyMap<number, number>;
  /** Failed cycles; missing means none. */
  readonly failures: ReadonlyMap<number, number>;
  /** Failed cycles by reason, for the incidents' main reason. */
  readonly reasons: ReadonlyMap<number, ReadonlyMap<string, number>>;
  /** Minutes in which Azure maintenance was in progress or announced. */
  readonly maintenance: ReadonlySet<number>;
  /** From redis_probe_sla_objective (ratio); undefined when the series is missing. */
  readonly objective?: number;
}

/** A run of consecutive down minutes. */
export interface Incident {
  readonly start: string;
  readonly end: string;
  readonly minutes: number;
  /** The failure reason with the most failed cycles in the incident. */
  readonly reason: string;
  /** It overlaps an Azure maintenance notification (planned maintenance, not an outage). */
  readonly maintenance: boolean;
}

/** One target's line of the report; the JSON output is exactly this shape. */
export interface TargetReport {
  readonly target: string;
  /** (counted minutes − downtime) / counted minutes; null when no minute could be counted. */
  readonly uptime_percent: number | null;
  readonly downtime_minutes: number;
  readonly unknown_minutes: number;
  readonly objective: number;
  readonly met: boolean | null;
  readonly credit_percent: number | null;
  readonly incidents: readonly Incident[];
}

/** How minutes become a report. */
export interface ReportSettings {
  readonly fromMs: number;
  readonly minutes: number;
  readonly tiers: readonly CreditTier[];
  /** Objective in percent for targets without redis_probe_sla_objective, or for all with `override`. */
  readonly defaultObjectivePercent: number;
  readonly overrideObjective: boolean;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

/**
 * Azure's formula, (Maximum Available Minutes − Downtime) / Maximum Available Minutes, over the
 * minutes the probe could judge: unknown minutes are reported apart and left out of both terms,
 * neither up (which would hide a monitoring gap as availability) nor down.
 */
export function buildTargetReport(data: TargetMinutes, settings: ReportSettings): TargetReport {
  const objectivePercent = settings.overrideObjective || data.objective === undefined ? settings.defaultObjectivePercent : round(data.objective * 100, 9);
  let down = 0;
  let unknown = 0;
  const incidents: Incident[] = [];
  let run: { first: number; last: number } | undefined;
  const closeRun = (): void => {
    if (!run) return;
    incidents.push(incident(data, settings.fromMs, run.first, run.last));
    run = undefined;
  };
  for (let minute = 0; minute < settings.minutes; minute += 1) {
    const attempts = data.attempts.get(minute) ?? 0;
    if (!(attempts > 0)) {
      unknown += 1;
      closeRun();
      continue;
    }
    if ((data.failures.get(minute) ?? 0) >= attempts) {
      down += 1;
      run = run ? { first: run.first, last: minute } : { first: minute, last: minute };
    } else {
      closeRun();
    }
  }
  closeRun();
  const counted = settings.minutes - unknown;
  const uptime = counted > 0 ? ((counted - down) / counted) * 100 : undefined;
  return {
    target: data.target,
    uptime_percent: uptime === undefined ? null : round(uptime, 4),
    downtime_minutes: down,
    unknown_minutes: unknown,
    objective: objectivePercent,
    met: uptime === undefined ? null : uptime >= objectivePercent - EPSILON,
    credit_percent: uptime === undefined ? null : creditPercent(uptime, objectivePercent, settings.tiers),
    incidents,
  };
}

function incident(data: TargetMinutes, fromMs: number, first: number, last: number): Incident {
  const byReason = new Map<string, number>();
  let maintenance = false;
  for (let minute = first; minute <= last; minute += 1) {
    for (const [reason, count] of data.reasons.get(minute) ?? []) byReason.set(reason, (byReason.get(reason) ?? 0) + count);
    if (data.maintenance.has(minute)) maintenance = true;
  }
  // Most failed cycles first; ties by name, so the report is stable.
  const [reason = 'unknown'] = [...byReason].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).map(([name]) => name);
  return {
    start: isoMinute(fromMs + first * MINUTE_MS),
    end: isoMinute(fromMs + (last + 1) * MINUTE_MS),
    minutes: last - first + 1,
    reason,
    maintenance,
  };
}
