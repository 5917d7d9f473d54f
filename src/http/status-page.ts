import { createHash } from 'node:crypto';
import type { CredentialStatusView } from './credential-status.ts';

/** One target on the status page (and in its JSON). */
export interface TargetStatusView {
  readonly target: string;
  readonly state: 'unknown' | 'up' | 'down';
  readonly since?: string | undefined;
  readonly lastSuccess: string | null;
  /** The most recent failed cycle, kept after the target recovers. */
  readonly lastFailure?: { readonly at: string; readonly step: string; readonly reason: string } | null;
  readonly lastCycle?:
    | {
        readonly at: string;
        readonly trigger: string;
        readonly durationMs: number;
        readonly steps: Readonly<Record<string, number>>;
        readonly failure?: { readonly step: string; readonly reason: string; readonly message: string } | undefined;
        readonly unsupportedSteps: readonly string[];
        readonly clients?: number | undefined;
      }
    | undefined;
}

/** What `/` reports: JSON for programs, an HTML page for people. */
export interface StatusReport {
  readonly version?: string;
  readonly location?: string | null;
  /** This replica's shard (`index/count`), null when it probes every target. */
  readonly shard?: string | null;
  readonly targets: readonly TargetStatusView[];
  readonly credentials?: readonly CredentialStatusView[];
}

/** The page reloads itself this often (seconds): about one probe interval. */
const REFRESH_SECONDS = 15;

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.up{color:#0a6b0a;font-weight:bold}.down{color:#b00020;font-weight:bold}.unknown{color:#777}
.meta{color:#555}code{font-size:.95em}`;

/** No script at all and the one stylesheet allowed by its hash: nothing else may load or run. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Whether the client asks for HTML before JSON (a browser does; curl, Prometheus and scripts do not). */
export function wantsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let html = 0;
  let json: number | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((param) => param.trim()).find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0;
    if (type.trim() === 'text/html') html = q;
    else if (type.trim() === 'application/json') json = q;
  }
  return html > 0 && (json === undefined || html > json);
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Every value on the page goes through this: target names, labels and error text come from outside. */
export const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);

const cell = (value: unknown, className?: string): string => `<td${className ? ` class="${escapeHtml(className)}"` : ''}>${escapeHtml(value)}</td>`;
const orDash = (value: string | null | undefined): string => value ?? '—';

export function renderStatusPage(report: StatusReport): string {
  const targetRows = report.targets.map((target) => {
    const cycle = target.lastCycle;
    const steps = cycle
      ? Object.entries(cycle.steps)
          .map(([step, ms]) => `${step} ${ms} ms`)
          .join(', ')
      : '';
    const failure = target.lastFailure ? `${target.lastFailure.reason} at ${target.lastFailure.step} (${target.lastFailure.at})` : '—';
    return `<tr data-target="${escapeHtml(target.target)}">${[
      cell(target.target),
      cell(target.state, target.state),
      cell(orDash(target.since)),
      cell(orDash(target.lastSuccess)),
      cell(failure),
      cell(cycle ? `${cycle.durationMs} ms` : '—'),
      cell(steps || '—'),
      cell(orDash(report.shard)),
    ].join('')}</tr>`;
  });
  const credentialRows = (report.credentials ?? []).map(
    (credential) =>
      `<tr data-credential="${escapeHtml(credential.name)}">${[
        cell(credential.name),
        cell(credential.type),
        cell(credential.tokenState),
        cell(orDash(credential.expiresAt)),
        cell(orDash(credential.lastErrorKind)),
      ].join('')}</tr>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>redis-probe status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>redis-probe <span id="version">${escapeHtml(report.version ?? 'unknown')}</span></h1>
<p class="meta">location ${escapeHtml(orDash(report.location))} · shard ${escapeHtml(orDash(report.shard))} · ${report.targets.length} targets · refreshes every ${REFRESH_SECONDS} s</p>
<h2>Targets</h2>
<table id="targets">
<thead><tr><th>target</th><th>state</th><th>since</th><th>last success</th><th>last failure</th><th>last cycle</th><th>step latencies</th><th>shard</th></tr></thead>
<tbody>
${targetRows.join('\n')}
</tbody>
</table>
<h2>Credentials</h2>
<table id="credentials">
<thead><tr><th>credential</th><th>type</th><th>token state</th><th>token expiry</th><th>last error</th></tr></thead>
<tbody>
${credentialRows.join('\n')}
</tbody>
</table>
</body>
</html>
`;
}
