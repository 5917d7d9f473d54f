/**
 * Generates the deployable forms of k8s/rules/redis-probe.rules.yml (the single source
 * of truth for recording and alerting rules):
 *   - k8s/base/prometheus-rule.yaml: a prometheus-operator PrometheusRule;
 *   - k8s/overlays/azure-managed-prometheus/rule-groups.bicep: Azure Monitor managed
 *     Prometheus rule groups (Microsoft.AlertsManagement/prometheusRuleGroups).
 *
 *   node scripts/gen-rules.ts           write both files
 *   node scripts/gen-rules.ts --check   exit 1 when either is stale (CI)
 *   node scripts/gen-rules.ts --out DIR [--quorum N] [--routing-labels a,b]
 *       [--runbook-url URL] [--dashboard-url URL]
 *                                       write the rules file and both forms with other
 *                                       parameters to DIR (the repository keeps the defaults)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const RULES_FILE = path.join(ROOT, 'k8s/rules/redis-probe.rules.yml');
export const PROMETHEUS_RULE_FILE = path.join(ROOT, 'k8s/base/prometheus-rule.yaml');
export const BICEP_FILE = path.join(ROOT, 'k8s/overlays/azure-managed-prometheus/rule-groups.bicep');

/** Azure Monitor: at most 20 rules per group, evaluated every 1 to 15 minutes. */
export const AZURE_MAX_RULES_PER_GROUP = 20;
const AZURE_MIN_INTERVAL_S = 60;
const AZURE_MAX_INTERVAL_S = 15 * 60;

/**
 * The `severity` labels kube-prometheus' Alertmanager routes and inhibition rules expect, to
 * Azure alert severities (0 Critical, 1 Error, 2 Warning, 3 Informational, 4 Verbose).
 */
export const AZURE_SEVERITY: Readonly<Record<string, number>> = { critical: 0, warning: 2, info: 3 };

/** What a deployment may change without editing the rules: see {@link applyParameters}. */
export interface RuleParameters {
  /** Labels of each target's `labels` (on redis_probe_target_info) copied onto its alerts. */
  readonly routingLabels: readonly string[];
  /** Probe locations that must see a target fail before it pages (fewer report: all of them). */
  readonly quorum: number;
  /** The runbook; each alert appends `#<its anchor>`. */
  readonly runbookUrl: string;
  /** The Grafana dashboard; target alerts append `?var-target=<target>`. */
  readonly dashboardUrl: string;
}

/** The values the rules file is written with: the runbook and dashboard paths inside the repository. */
export const DEFAULT_PARAMETERS: RuleParameters = {
  routingLabels: ['team', 'env'],
  quorum: 2,
  runbookUrl: 'docs/runbook.md',
  dashboardUrl: 'k8s/grafana/redis-probe-dashboard.json',
};

/** Labels the alerts already carry or route on themselves: a routing label must not replace them. */
const RESERVED_LABELS = new Set(['target', 'location', 'job', 'instance', 'alertname', 'severity', 'long_window', 'short_window', 'credential']);

/** Each parameter's spelling in the rules file, for a given value. */
const PARAMETER_TOKENS = {
  routingInfo: (p: RuleParameters) => `max by (${['target', ...p.routingLabels].join(', ')}) (`,
  routingJoin: (p: RuleParameters) => `group_left (${p.routingLabels.join(', ')}) redis_probe:target_routing:info`,
  quorum: (p: RuleParameters) => `(redis_probe_success{job="redis-probe"})), ${p.quorum})`,
  runbookUrl: (p: RuleParameters) => `runbook_url: ${p.runbookUrl}#`,
  dashboardUrl: (p: RuleParameters) => `dashboard_url: ${p.dashboardUrl}`,
} as const;

/** Throws, naming the parameter and the fix, unless the parameters can be written into the rules. */
export function validateParameters(p: RuleParameters): void {
  for (const label of p.routingLabels) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) {
      throw new Error(`--routing-labels: ${JSON.stringify(label)} is not a Prometheus label name (letters, digits, _; not starting with a digit)`);
    }
    if (RESERVED_LABELS.has(label)) {
      throw new Error(`--routing-labels: ${label} is set by the rules themselves; list only labels of the targets' \`labels\``);
    }
  }
  if (new Set(p.routingLabels).size !== p.routingLabels.length) throw new Error('--routing-labels: a label is listed twice');
  if (!Number.isInteger(p.quorum) || p.quorum < 1) throw new Error(`--quorum: must be a whole number of locations, 1 or more (got ${p.quorum})`);
  for (const [name, url] of [
    ['--runbook-url', p.runbookUrl],
    ['--dashboard-url', p.dashboardUrl],
  ] as const) {
    if (url === '' || /[\s#?"'{}]/.test(url)) {
      throw new Error(
        `${name}: ${JSON.stringify(url)} must be a URL or path without spaces, quotes, braces, '#' or '?' (the rules append the anchor and the query)`,
      );
    }
  }
}

/**
 * The rules file with other parameters: each default spelling (routing labels in the routing
 * rule and every join, the quorum, the runbook and dashboard URLs) replaced. Throws when the
 * rules file no longer holds a spelling, so a parameter is never silently left out.
 */
export function applyParameters(rulesText: string, params: RuleParameters): string {
  validateParameters(params);
  let text = rulesText;
  for (const token of Object.values(PARAMETER_TOKENS)) {
    const from = token(DEFAULT_PARAMETERS);
    if (!text.includes(from)) throw new Error(`the rules file no longer contains ${JSON.stringify(from)}: update PARAMETER_TOKENS in scripts/gen-rules.ts`);
    text = text.replaceAll(from, token(params));
  }
  return text;
}

const stringMap = z.record(z.string(), z.string());
const ruleSchema = z.union([
  z.strictObject({ record: z.string(), expr: z.string(), labels: stringMap.optional() }),
  z.strictObject({
    alert: z.string(),
    expr: z.string(),
    for: z.string().optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
  }),
]);
const groupSchema = z.strictObject({
  name: z.string(),
  interval: z.string().optional(),
  rules: z.array(ruleSchema).min(1),
});
const rulesFileSchema = z.strictObject({ groups: z.array(groupSchema).min(1) });

export type Rule = z.infer<typeof ruleSchema>;
export type RuleGroup = z.infer<typeof groupSchema>;

/** Parses a Prometheus rules file, rejecting anything outside the shape this repo uses. */
export function parseRulesFile(text: string): RuleGroup[] {
  return rulesFileSchema.parse(YAML.parse(text)).groups;
}

const DURATION_UNITS_S: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  y: 365 * 86400,
};

/** Prometheus duration ("1h30m", "2m") to seconds. */
export function durationSeconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw new Error(`not a Prometheus duration: ${JSON.stringify(duration)}`);
  }
  return parts.reduce((total, [, amount = '', unit = '']) => total + Number(amount) * (DURATION_UNITS_S[unit] ?? Number.NaN), 0);
}

/** Prometheus duration to the ISO 8601 form Azure wants ("15m" -> "PT15M", "1d" -> "P1D"). */
export function isoDuration(duration: string): string {
  let seconds = durationSeconds(duration);
  if (!Number.isInteger(seconds)) throw new Error(`sub-second duration not supported: ${duration}`);
  const days = Math.floor(seconds / 86400);
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const time = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${seconds ? `${seconds}S` : ''}`;
  const out = `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
  return out === 'P' ? 'PT0S' : out;
}

const GENERATED_NOTE = 'GENERATED by scripts/gen-rules.ts from k8s/rules/redis-probe.rules.yml: do not edit.';

/** The PrometheusRule manifest carrying exactly the groups of the rules file. */
export function renderPrometheusRule(rulesText: string): string {
  const groups = parseRulesFile(rulesText);
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'redis-probe',
      labels: { 'app.kubernetes.io/name': 'redis-probe', 'app.kubernetes.io/component': 'rules' },
    },
    spec: { groups },
  };
  const header = [
    `# ${GENERATED_NOTE}`,
    '# Regenerate with `node scripts/gen-rules.ts`. kube-prometheus-stack only loads',
    '# PrometheusRules labelled `release: <helm release>` unless',
    '# prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false (docs/deploy-aks.md).',
  ].join('\n');
  return `${header}\n${YAML.stringify(manifest, { lineWidth: 0, blockQuote: 'literal' })}`;
}

/** A Bicep single-quoted string literal. */
export function bicepString(value: string): string {
  const escaped = value
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "\\'")
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t')
    .replaceAll('${', '\\${');
  return `'${escaped}'`;
}

/** Multi-line PromQL on one line (as Azure's portal shows it); PromQL ignores the layout. */
export function oneLineExpr(expr: string): string {
  return expr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

function bicepKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : bicepString(key);
}

/**
 * The Bicep expressions that stand for each parameter inside a string literal, keyed by the
 * default spelling (escaped as bicepString escapes it).
 */
const BICEP_INTERPOLATIONS: readonly (readonly [string, string])[] = [
  [PARAMETER_TOKENS.routingInfo(DEFAULT_PARAMETERS), "max by (${join(concat(['target'], routingLabels), ', ')}) ("],
  [PARAMETER_TOKENS.routingJoin(DEFAULT_PARAMETERS), "group_left (${join(routingLabels, ', ')}) redis_probe:target_routing:info"],
  [PARAMETER_TOKENS.quorum(DEFAULT_PARAMETERS), '(redis_probe_success{job="redis-probe"})), ${quorum})'],
];

/** A string literal in which the parameters' default spellings become Bicep interpolations. */
function bicepParameterised(value: string, interpolations: readonly (readonly [string, string])[]): string {
  let literal = bicepString(value);
  for (const [from, to] of interpolations) {
    literal = literal.replaceAll(bicepString(from).slice(1, -1), to);
  }
  return literal;
}

function bicepAnnotation(key: string, value: string): string {
  const prefix = key === 'runbook_url' ? `${DEFAULT_PARAMETERS.runbookUrl}#` : key === 'dashboard_url' ? DEFAULT_PARAMETERS.dashboardUrl : undefined;
  if (prefix === undefined || !value.startsWith(prefix)) return bicepString(value);
  const param = key === 'runbook_url' ? '${runbookUrl}#' : '${dashboardUrl}';
  return `'${param}${bicepString(value.slice(prefix.length)).slice(1)}`;
}

function bicepStringMap(
  map: Readonly<Record<string, string>>,
  indent: string,
  literal: (key: string, value: string) => string = (_, v) => bicepString(v),
): string[] {
  return [...Object.entries(map).map(([key, value]) => `${indent}  ${bicepKey(key)}: ${literal(key, value)}`), `${indent}}`];
}

function symbolicName(groupName: string): string {
  const words = groupName.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

function bicepRule(rule: Rule, indent: string): string[] {
  const lines = [`${indent}{`];
  const inner = `${indent}  `;
  if ('record' in rule) {
    lines.push(`${inner}record: ${bicepString(rule.record)}`);
    lines.push(`${inner}expression: ${bicepParameterised(oneLineExpr(rule.expr), BICEP_INTERPOLATIONS)}`);
    if (rule.labels) lines.push(`${inner}labels: {`, ...bicepStringMap(rule.labels, inner));
  } else {
    const severityLabel = rule.labels?.['severity'];
    const severity = severityLabel === undefined ? undefined : AZURE_SEVERITY[severityLabel];
    if (severity === undefined) {
      throw new Error(`alert ${rule.alert}: label severity must be one of ${Object.keys(AZURE_SEVERITY).join(', ')}`);
    }
    lines.push(`${inner}alert: ${bicepString(rule.alert)}`);
    lines.push(`${inner}expression: ${bicepParameterised(oneLineExpr(rule.expr), BICEP_INTERPOLATIONS)}`);
    if (rule.for !== undefined) lines.push(`${inner}for: ${bicepString(isoDuration(rule.for))}`);
    lines.push(`${inner}severity: ${severity}`);
    if (rule.labels) lines.push(`${inner}labels: {`, ...bicepStringMap(rule.labels, inner));
    if (rule.annotations) lines.push(`${inner}annotations: {`, ...bicepStringMap(rule.annotations, inner, bicepAnnotation));
    lines.push(`${inner}actions: actions`);
    lines.push(`${inner}resolveConfiguration: {`);
    lines.push(`${inner}  autoResolved: true`);
    lines.push(`${inner}  timeToResolve: 'PT10M'`);
    lines.push(`${inner}}`);
  }
  lines.push(`${indent}}`);
  return lines;
}

/**
 * Azure Monitor managed Prometheus rule groups, one resource per group of the rules file (written
 * with the default parameters); `params` become the defaults of the Bicep parameters.
 */
export function renderBicep(rulesText: string, params: RuleParameters = DEFAULT_PARAMETERS): string {
  validateParameters(params);
  applyParameters(rulesText, DEFAULT_PARAMETERS); // throws when a parameter's spelling is missing
  const groups = parseRulesFile(rulesText);
  const out: string[] = [
    `// ${GENERATED_NOTE}`,
    '// Regenerate with `node scripts/gen-rules.ts`.',
    '//',
    '// Recording and alerting rules of redis-probe for Azure Monitor managed Prometheus.',
    '// Deploy next to the Azure Monitor workspace (docs/deploy-aks.md#7-alerts-with-azure-monitor-managed-prometheus):',
    '//   az deployment group create -g <resource-group> \\',
    '//     -f k8s/overlays/azure-managed-prometheus/rule-groups.bicep \\',
    '//     -p azureMonitorWorkspaceId=<workspace-id> clusterName=<aks-name> actionGroupIds=\'["<action-group-id>"]\'',
    '',
    "@description('Resource ID of the Azure Monitor workspace that stores the redis-probe metrics.')",
    'param azureMonitorWorkspaceId string',
    '',
    "@description('AKS cluster whose series the rules read (the `cluster` label); empty: every cluster of the workspace.')",
    "param clusterName string = ''",
    '',
    "@description('Resource ID of that AKS cluster, added to the scopes when set.')",
    "param aksClusterId string = ''",
    '',
    "@description('Action groups notified by every alert.')",
    'param actionGroupIds array = []',
    '',
    "@description('Appended to every rule group name, e.g. the cluster name when several clusters share a resource group.')",
    "param nameSuffix string = ''",
    '',
    "@description('Target labels (each target\\'s `labels` in the redis-probe config) copied onto its alerts, for routing.')",
    `param routingLabels array = [${params.routingLabels.map(bicepString).join(', ')}]`,
    '',
    "@description('Probe locations that must see a target fail before it pages (critical); when fewer report, all of them. Fewer: a warning naming the location.')",
    '@minValue(1)',
    `param quorum int = ${params.quorum}`,
    '',
    "@description('The runbook; every alert appends #<its anchor> (runbook_url). Default: its path inside the repository.')",
    `param runbookUrl string = ${bicepString(params.runbookUrl)}`,
    '',
    "@description('The Grafana dashboard; alerts about a target append ?var-target=<target> (dashboard_url). Default: its path inside the repository.')",
    `param dashboardUrl string = ${bicepString(params.dashboardUrl)}`,
    '',
    'param location string = resourceGroup().location',
    '',
    'param enabled bool = true',
    '',
    'var scopes = empty(aksClusterId) ? [azureMonitorWorkspaceId] : [azureMonitorWorkspaceId, aksClusterId]',
    'var actions = [for id in actionGroupIds: { actionGroupId: id }]',
  ];
  for (const group of groups) {
    if (group.rules.length > AZURE_MAX_RULES_PER_GROUP) {
      throw new Error(`group ${group.name}: ${group.rules.length} rules, Azure allows ${AZURE_MAX_RULES_PER_GROUP}`);
    }
    const interval = group.interval ?? '1m';
    const intervalS = durationSeconds(interval);
    if (intervalS < AZURE_MIN_INTERVAL_S || intervalS > AZURE_MAX_INTERVAL_S) {
      throw new Error(`group ${group.name}: interval ${interval} outside Azure's 1m..15m`);
    }
    out.push(
      '',
      `resource ${symbolicName(group.name)} 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = {`,
      `  name: '${group.name}\${nameSuffix}'`,
      '  location: location',
      '  properties: {',
      `    description: ${bicepString(`redis-probe rule group ${group.name}`)}`,
      '    scopes: scopes',
      '    clusterName: empty(clusterName) ? null : clusterName',
      '    enabled: enabled',
      `    interval: ${bicepString(isoDuration(interval))}`,
      '    rules: [',
      ...group.rules.flatMap((rule) => bicepRule(rule, '      ')),
      '    ]',
      '  }',
      '}',
    );
  }
  return `${out.join('\n')}\n`;
}

/** Every generated file with its expected content: the repository's, or with `params` into `outDir`. */
export function generatedFiles(params: RuleParameters = DEFAULT_PARAMETERS, outDir?: string): { file: string; content: string }[] {
  const rulesText = readFileSync(RULES_FILE, 'utf8');
  const withParams = applyParameters(rulesText, params);
  const files = [
    { file: PROMETHEUS_RULE_FILE, content: renderPrometheusRule(withParams) },
    { file: BICEP_FILE, content: renderBicep(rulesText, params) },
  ];
  if (outDir === undefined) return files;
  return [
    { file: path.join(outDir, path.basename(RULES_FILE)), content: withParams },
    ...files.map(({ file, content }) => ({ file: path.join(outDir, path.basename(file)), content })),
  ];
}

/** What the command line asks for. */
export interface GenRulesArgs {
  readonly check: boolean;
  readonly outDir: string | undefined;
  readonly params: RuleParameters;
}

/** Parses the command line; throws with the option and the fix on a bad one. */
export function parseArgs(argv: readonly string[]): GenRulesArgs {
  let check = false;
  let outDir: string | undefined;
  const params: { -readonly [K in keyof RuleParameters]: RuleParameters[K] } = { ...DEFAULT_PARAMETERS };
  let changed = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--check') {
      check = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (!['--out', '--quorum', '--routing-labels', '--runbook-url', '--dashboard-url'].includes(name)) {
      throw new Error(`unknown option ${name}: use --check, --out DIR, --quorum N, --routing-labels a,b, --runbook-url URL, --dashboard-url URL`);
    }
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--out') {
      outDir = value;
      continue;
    }
    changed = true;
    if (name === '--quorum') params.quorum = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    else if (name === '--routing-labels')
      params.routingLabels = value
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== '');
    else if (name === '--runbook-url') params.runbookUrl = value;
    else params.dashboardUrl = value;
  }
  validateParameters(params);
  if (changed && outDir === undefined) {
    throw new Error('--quorum, --routing-labels, --runbook-url and --dashboard-url need --out DIR: the repository keeps the defaults');
  }
  if (check && outDir !== undefined) throw new Error('--check verifies the repository files: drop --out');
  return { check, outDir, params };
}

function main(argv: readonly string[]): number {
  let args: GenRulesArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    console.error(`gen-rules: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (args.outDir !== undefined) mkdirSync(args.outDir, { recursive: true });
  let stale = 0;
  for (const { file, content } of generatedFiles(args.params, args.outDir)) {
    const relative = path.relative(ROOT, file);
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) continue;
    if (args.check) {
      console.error(`${relative} is stale: run node scripts/gen-rules.ts`);
      stale += 1;
    } else {
      writeFileSync(file, content);
      console.log(`wrote ${relative}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
