import { isoMinute } from './period.ts';
import type { Period } from './period.ts';
import type { TargetReport } from './report.ts';

export const FORMATS = ['table', 'json', 'csv'] as const;
export type ReportFormat = (typeof FORMATS)[number];

/** `{"targets": [...]}`, the shape scripts rely on. */
export function formatJson(reports: readonly TargetReport[]): string {
  return `${JSON.stringify({ targets: reports }, null, 2)}\n`;
}

const csvField = (value: string | number | boolean | null): string => {
  const text = value === null ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One row per target; incidents as a count (the JSON has them in full). */
export function formatCsv(reports: readonly TargetReport[]): string {
  const header = ['target', 'uptime_percent', 'downtime_minutes', 'unknown_minutes', 'objective', 'met', 'credit_percent', 'incidents'];
  const rows = reports.map((r) =>
    [r.target, r.uptime_percent, r.downtime_minutes, r.unknown_minutes, r.objective, r.met, r.credit_percent, r.incidents.length].map(csvField).join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatTable(reports: readonly TargetReport[], period: Period, job: string): string {
  const minutes = (period.toMs - period.fromMs) / 60_000;
  const lines = [
    `SLA report ${isoMinute(period.fromMs)} to ${isoMinute(period.toMs)}${period.truncated ? ' (so far)' : ''}: ${minutes} minutes, job ${job}`,
    '',
    columns([
      ['TARGET', 'UPTIME %', 'OBJECTIVE %', 'MET', 'DOWNTIME MIN', 'UNKNOWN MIN', 'CREDIT %', 'INCIDENTS'],
      ...reports.map((r) => [
        r.target,
        r.uptime_percent === null ? '-' : r.uptime_percent.toFixed(4),
        String(r.objective),
        r.met === null ? '-' : r.met ? 'yes' : 'NO',
        String(r.downtime_minutes),
        String(r.unknown_minutes),
        r.credit_percent === null ? '-' : String(r.credit_percent),
        String(r.incidents.length),
      ]),
    ]),
  ];
  const incidents = reports.flatMap((r) =>
    r.incidents.map((i) => [r.target, i.start, i.end, `${i.minutes} min`, i.reason, i.maintenance ? 'planned maintenance' : '']),
  );
  if (incidents.length > 0) lines.push('', 'Incidents:', columns([['TARGET', 'START', 'END', 'DOWNTIME', 'MAIN REASON', 'NOTE'], ...incidents]));
  lines.push('', 'Unknown minutes (no probe cycle seen) count neither as up nor as down; uptime is over the other minutes.');
  return `${lines.join('\n')}\n`;
}
