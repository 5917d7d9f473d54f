import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configFileSchema } from './schema.ts';
import { substituteEnv } from './env-substitution.ts';
import type { SubstitutionIssue } from './env-substitution.ts';
import type { DaemonConfig } from './types.ts';
import { ConfigError } from './config-error.ts';
import { errorMessage } from '../shared/error-text.ts';
import { describeFsError, formatPath, reportDuplicates } from './issues.ts';
import { resolveConfig } from './resolve-config.ts';
import type { ConfigSources } from './resolve-config.ts';

export type { ConfigSources } from './resolve-config.ts';

export const processConfigSources = (): ConfigSources => ({
  env: process.env,
  readFile: (path) => readFileSync(path, 'utf8'),
  hostname: () => hostname(),
});

/** Reads, validates and resolves a config file; throws ConfigError with every problem found. */
export function loadConfig(path: string, sources: ConfigSources): DaemonConfig {
  let text: string;
  try {
    text = sources.readFile(path);
  } catch (error) {
    throw new ConfigError([`${path}: cannot read the config file (${describeFsError(error)}); check --config or REDIS_PROBE_CONFIG`]);
  }
  return parseConfig(text, { ...sources, baseDir: dirname(resolve(path)) });
}

/** Validates config text; relative file paths inside it resolve against `baseDir`. */
export function parseConfig(text: string, sources: ConfigSources & { baseDir: string }): DaemonConfig {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((error) => `yaml: ${error.message.split('\n')[0] ?? ''}; fix the YAML syntax`));
  }
  let raw: unknown;
  try {
    raw = document.toJS();
  } catch (error) {
    // yaml throws here, not in `errors`, for an alias to a missing anchor or an alias bomb (maxAliasCount).
    throw new ConfigError([`yaml: ${errorMessage(error)}; fix the YAML syntax`]);
  }
  const substitutionIssues: SubstitutionIssue[] = [];
  const tree = substituteEnv(raw, sources.env, substitutionIssues);
  const parsed = configFileSchema.safeParse(tree ?? {});
  const issues = substitutionIssues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (!parsed.success) {
    issues.push(...parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${describeZodIssue(issue)}`));
    // resolveConfig does not run on a tree that failed the schema; names are checked here so that a
    // duplicate is not left for a second round of fixes.
    for (const list of ['credentials', 'targets'] as const) reportDuplicates(namesIn(tree, list), list, issues);
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const config = resolveConfig(parsed.data, raw, { ...sources, readFile: (file) => sources.readFile(resolve(sources.baseDir, file)) });
  const webConfigFile = parsed.data.server?.webConfigFile;
  return webConfigFile === undefined ? config : { ...config, server: { ...config.server, webConfigFile: resolve(sources.baseDir, webConfigFile) } };
}

/** The `name` of each entry of a list in an unvalidated tree; undefined where there is none. */
function namesIn(tree: unknown, list: string): (string | undefined)[] {
  const entries = tree !== null && typeof tree === 'object' ? (tree as Record<string, unknown>)[list] : undefined;
  if (!Array.isArray(entries)) return [];
  return entries.map((entry: unknown) => {
    const name = entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>)['name'] : undefined;
    return typeof name === 'string' ? name : undefined;
  });
}

interface ZodIssueLike {
  readonly code: string;
  readonly message: string;
  readonly keys?: readonly string[];
  readonly path: readonly PropertyKey[];
}

function describeZodIssue(issue: ZodIssueLike): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}; remove or correct ${issue.keys.length > 1 ? 'them' : 'it'}`;
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return 'is required';
  return issue.message.startsWith('Invalid input') ? issue.message.replace(/^Invalid input: /, '') : issue.message;
}
