/**
 * A schema-valid config file → the DaemonConfig that runs: every default filled in, every referenced file
 * read and checked, cross-references (credential names, shards, location) resolved, every issue collected.
 */
import { ENV_NAME } from './env-substitution.ts';
import { LOCATION_PATTERN, LOCATION_RULE } from './schema.ts';
import type { ConfigFile, RawCredential, RawTarget, RawTls } from './schema.ts';
import { certificateProblem, keyMatchesCertificate, privateKeyProblem } from './pem.ts';
import type { CredentialConfig, DaemonConfig, ShardConfig, TargetConfig, TlsConfig } from './types.ts';
import { COMMAND_STEPS } from '../shared/probe-result.ts';
import { formatAddress, parseAddress } from '../shared/address.ts';
import { ordinalFromHostname } from './shard.ts';
import { ConfigError } from './config-error.ts';
import { describeFsError, formatPath, reportDuplicates } from './issues.ts';

export const DEFAULT_HTTP_PORT = 9637;
export const DEFAULT_SCHEDULE = '*/15 * * * * *';
/** The scope of Azure Cache for Redis and Azure Managed Redis data-plane tokens: a credential's default. */
export const ENTRA_REDIS_SCOPE = 'https://redis.azure.com/.default';

/** What loading needs from the outside world, injectable for tests. */
export interface ConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
  /** The pod's host name, for `shard.fromHostname` (default: the HOSTNAME variable). */
  readonly hostname?: () => string;
}

/** A field as written in the file, before substitution: `undefined` when substitution did not change it. */
type WrittenAs = (path: readonly (string | number)[], value: string) => string | undefined;

function writtenAs(rawTree: unknown): WrittenAs {
  return (path, value) => {
    let node = rawTree;
    for (const part of path) node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[part] : undefined;
    return typeof node === 'string' && node !== value ? node : undefined;
  };
}

/** Said of a field whose value came from the environment: the value may be a secret put in the wrong field. */
const notShown = (written: string) => `it is written "${written}", whose value is not shown as it may be a secret`;

/** Fills defaults, reads referenced files and checks cross-references; throws ConfigError with every issue. */
export function resolveConfig(file: ConfigFile, rawTree: unknown, sources: ConfigSources): DaemonConfig {
  const issues: string[] = [];
  const written = writtenAs(rawTree);
  /** Reads the file named at `path` (`field` is its text form); a name from the environment is not echoed. */
  const readSecretFile: ReadSecretFile = (file, path, field) => {
    try {
      return sources.readFile(file).trim();
    } catch (error) {
      const rawText = written(path, file);
      const key = String(path.at(-1));
      issues.push(
        rawText === undefined
          ? `${field}: cannot read ${file} (${describeFsError(error)}); check the path and the mount`
          : `${field}: cannot read the file it names (${describeFsError(error)}); ${notShown(rawText)}. ${key} takes a path: check it and the mount`,
      );
      return '';
    }
  };

  // Every target that inherits defaults.tls names the same files: each content (and pair) is parsed once.
  const pemResults = new Map<string, string | boolean | undefined>();
  const once = <T extends string | boolean | undefined>(key: string, compute: () => T): T => {
    if (!pemResults.has(key)) pemResults.set(key, compute());
    return pemResults.get(key) as T;
  };
  const checkPem: CheckPem = {
    problem: (kind, text) => once(`${kind}\0${text}`, () => (kind === 'key' ? privateKeyProblem(text) : certificateProblem(text))),
    pairMatches: (cert, key) => once(`pair\0${cert}\0${key}`, () => keyMatchesCertificate(cert, key)),
  };

  const credentials = (file.credentials ?? []).map((raw, index) =>
    resolveCredential(raw, ['credentials', index], sources, { readSecretFile, written, checkPem }, issues),
  );
  reportDuplicates(
    credentials.map((credential) => credential.name),
    'credentials',
    issues,
  );

  const credentialNames = new Set(credentials.map((credential) => credential.name));
  const targets = file.targets.map((raw, index) => {
    const field = `targets[${index}]`;
    if (raw.credential !== undefined && !credentialNames.has(raw.credential)) {
      const rawText = written(['targets', index, 'credential'], raw.credential);
      const shown = rawText === undefined ? `"${raw.credential}"` : `"${rawText}" (as written; its value is not shown as it may be a secret)`;
      issues.push(
        `${field}.credential: ${shown} is not defined; add it to credentials or fix the name (defined: ${[...credentialNames].join(', ') || 'none'})`,
      );
    }
    return resolveTarget(raw, file.defaults ?? {}, index, { readSecretFile, checkPem }, issues);
  });
  reportDuplicates(
    targets.map((target) => target.name),
    'targets',
    issues,
  );
  const location = resolveLocation(file.location, sources.env, issues);
  const shard = resolveShard(file.shard, sources, issues);

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    server: {
      host: file.server?.host ?? '0.0.0.0',
      port: file.server?.port ?? DEFAULT_HTTP_PORT,
      shutdownGraceMs: file.server?.shutdownGrace ?? 10_000,
    },
    log: { level: file.log?.level ?? 'info', format: file.log?.format ?? 'json', cycles: file.log?.cycles ?? 'failures' },
    metrics: {
      detail: file.metrics?.detail ?? 'standard',
      stepHistograms: file.metrics?.stepHistograms ?? true,
      preinitialiseFailures: file.metrics?.preinitialiseFailures ?? file.metrics?.detail === 'full',
    },
    credentials,
    targets,
    ...(location !== undefined ? { location } : {}),
    ...(shard !== undefined ? { shard } : {}),
  };
}

/** Per-pod values: the environment wins over the file, which every replica and region shares. */
export const LOCATION_ENV = 'REDIS_PROBE_LOCATION';
export const SHARD_INDEX_ENV = 'REDIS_PROBE_SHARD_INDEX';
export const SHARD_COUNT_ENV = 'REDIS_PROBE_SHARD_COUNT';

function resolveLocation(fromFile: string | undefined, env: ConfigSources['env'], issues: string[]): string | undefined {
  const fromEnv = env[LOCATION_ENV];
  if (fromEnv === undefined || fromEnv === '') return fromFile;
  if (!LOCATION_PATTERN.test(fromEnv)) {
    issues.push(`${LOCATION_ENV}: ${LOCATION_RULE} (got "${fromEnv.slice(0, 80)}")`);
  }
  return fromEnv;
}

/**
 * The shard index comes from REDIS_PROBE_SHARD_INDEX, else `shard.index`, else the StatefulSet ordinal
 * in the host name (`shard.fromHostname`); the count from REDIS_PROBE_SHARD_COUNT, else `shard.count`.
 */
function resolveShard(raw: ConfigFile['shard'], sources: ConfigSources, issues: string[]): ShardConfig | undefined {
  if (raw?.index !== undefined && raw.fromHostname === true) {
    issues.push('shard: set either index or fromHostname, not both');
  }
  const envIndex = envWholeNumber(sources.env, SHARD_INDEX_ENV, 0, issues);
  const envCount = envWholeNumber(sources.env, SHARD_COUNT_ENV, 1, issues);
  const count = envCount ?? raw?.count;
  let index: number | undefined;
  let source: ShardConfig['source'] = 'config';
  if (envIndex !== undefined) {
    index = envIndex;
    source = 'env';
  } else if (raw?.index !== undefined) {
    index = raw.index;
  } else if (raw?.fromHostname === true) {
    const name = sources.hostname?.() ?? sources.env['HOSTNAME'] ?? '';
    index = ordinalFromHostname(name);
    source = 'hostname';
    if (index === undefined) {
      issues.push(
        `shard.fromHostname: the host name "${name.slice(0, 80)}" does not end in -<ordinal> as StatefulSet pods do; set shard.index or ${SHARD_INDEX_ENV} instead`,
      );
      return undefined;
    }
  }
  if (index === undefined && count === undefined) return undefined;
  if (count === undefined) {
    issues.push(`shard.count: required with a shard index; set shard.count or ${SHARD_COUNT_ENV} to the number of replicas`);
    return undefined;
  }
  if (index === undefined) {
    // One shard needs no index; more need to know which one this replica is.
    if (count === 1) return { index: 0, count, source };
    issues.push(`shard.index: required when shard.count is ${count}; set shard.index, shard.fromHostname: true or ${SHARD_INDEX_ENV}`);
    return undefined;
  }
  if (index >= count) {
    const from = source === 'env' ? SHARD_INDEX_ENV : source === 'hostname' ? 'the host name' : 'shard.index';
    issues.push(`shard.index: ${index} (from ${from}) must be below the shard count ${count}; shards are numbered 0 to ${count - 1}`);
    return undefined;
  }
  return { index, count, source };
}

function envWholeNumber(env: ConfigSources['env'], name: string, min: number, issues: string[]): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) < min) {
    issues.push(`${name}: must be a whole number of at least ${min} (got "${text.slice(0, 40)}")`);
    return undefined;
  }
  return Number(text);
}

type ReadSecretFile = (file: string, path: readonly (string | number)[], field: string) => string;
interface CheckPem {
  /** The problem with PEM text meant as certificates or as a private key; undefined when it parses. */
  problem(kind: 'certificate' | 'key', text: string): string | undefined;
  pairMatches(certPem: string, keyPem: string): boolean;
}

function resolveCredential(
  raw: RawCredential,
  path: readonly (string | number)[],
  sources: ConfigSources,
  fields: { readonly readSecretFile: ReadSecretFile; readonly written: WrittenAs; readonly checkPem: CheckPem },
  issues: string[],
): CredentialConfig {
  const field = formatPath(path);
  const readSecretFile = (file: string, key: string) => fields.readSecretFile(file, [...path, key], `${field}.${key}`);
  /** The value of the variable a `*Env` field names, or an issue that does not echo a name from the environment. */
  const fromEnv = (name: string, key: 'passwordEnv' | 'clientSecretEnv', otherwise: string): string => {
    const value = sources.env[name] ?? '';
    if (value !== '') return value;
    const rawText = fields.written([...path, key], name);
    const inner = rawText === undefined ? undefined : /^\$\{(.*)\}$/.exec(rawText)?.[1];
    const reference = inner !== undefined && ENV_NAME.test(inner) ? inner : undefined;
    if (rawText !== undefined) {
      const fix =
        reference !== undefined ? `the name of the variable: write ${key}: ${reference}` : 'the name of the variable that holds the value, without ${...}';
      issues.push(`${field}.${key}: names no environment variable that is set; ${notShown(rawText)}. ${key} takes ${fix}`);
    } else if (!ENV_NAME.test(name)) {
      issues.push(
        `${field}.${key}: is not a variable name (letters, digits and "_", not starting with a digit), and is not shown as it may be a secret; ${key} takes the name of the variable that holds the value, not the value`,
      );
    } else {
      issues.push(`${field}.${key}: environment variable ${name} is not set or empty; ${otherwise}`);
    }
    return '';
  };
  if (raw.type === 'access-key') {
    const given = [raw.password, raw.passwordFile, raw.passwordEnv].filter((value) => value !== undefined).length;
    if (given !== 1) {
      issues.push(`${field}: set exactly one of password, passwordFile, passwordEnv (found ${given})`);
    }
    let password = raw.password ?? '';
    if (given === 1 && raw.passwordFile !== undefined) {
      const before = issues.length;
      password = readSecretFile(raw.passwordFile, 'passwordFile');
      if (password === '' && issues.length === before) issues.push(`${field}.passwordFile: the file is empty; put the access key in it`);
    }
    if (given === 1 && raw.passwordEnv !== undefined) password = fromEnv(raw.passwordEnv, 'passwordEnv', 'export it or use passwordFile');
    return { type: 'access-key', name: raw.name, ...(raw.username ? { username: raw.username } : {}), password };
  }

  const source = raw.source ?? 'default';
  let clientSecret: string | undefined;
  if (source === 'client-secret') {
    if (!raw.tenantId) issues.push(`${field}.tenantId: required when source is client-secret`);
    if (!raw.clientId) issues.push(`${field}.clientId: required when source is client-secret`);
    if ((raw.clientSecretFile === undefined) === (raw.clientSecretEnv === undefined)) {
      issues.push(`${field}: set exactly one of clientSecretFile, clientSecretEnv when source is client-secret`);
    } else if (raw.clientSecretFile !== undefined) {
      clientSecret = readSecretFile(raw.clientSecretFile, 'clientSecretFile');
    } else if (raw.clientSecretEnv !== undefined) {
      clientSecret = fromEnv(raw.clientSecretEnv, 'clientSecretEnv', 'export it or use clientSecretFile') || undefined;
    }
  } else if (raw.clientSecretFile !== undefined || raw.clientSecretEnv !== undefined) {
    issues.push(`${field}: clientSecretFile/clientSecretEnv only apply to source client-secret; remove them or change source`);
  }
  const authorityCaPem = raw.authorityCa !== undefined ? readSecretFile(raw.authorityCa, 'authorityCa') : undefined;
  const authorityCaProblem = authorityCaPem ? fields.checkPem.problem('certificate', authorityCaPem) : undefined;
  if (authorityCaProblem !== undefined) issues.push(`${field}.authorityCa: ${authorityCaProblem}`);
  const refreshBeforeExpiryMs = raw.refreshBeforeExpiry ?? 5 * 60_000;
  return {
    type: 'entra',
    name: raw.name,
    source,
    scope: raw.scope ?? ENTRA_REDIS_SCOPE,
    ...(raw.username ? { username: raw.username } : {}),
    ...(raw.tenantId ? { tenantId: raw.tenantId } : {}),
    ...(raw.clientId ? { clientId: raw.clientId } : {}),
    ...(clientSecret ? { clientSecret } : {}),
    ...(raw.authorityHost ? { authorityHost: raw.authorityHost } : {}),
    ...(raw.disableInstanceDiscovery !== undefined ? { disableInstanceDiscovery: raw.disableInstanceDiscovery } : {}),
    ...(authorityCaPem ? { authorityCaPem } : {}),
    refreshBeforeExpiryMs,
    requestTimeoutMs: raw.requestTimeout ?? 10_000,
    retryInitialDelayMs: raw.retry?.initialDelay ?? 1_000,
    retryMaxDelayMs: raw.retry?.maxDelay ?? 60_000,
  };
}

/** The objective when neither the target nor `defaults` sets one: Azure Cache for Redis Standard/Premium's 99.9 %. */
const DEFAULT_SLA_OBJECTIVE_PERCENT = 99.9;

function resolveTarget(
  raw: RawTarget,
  defaults: NonNullable<ConfigFile['defaults']>,
  index: number,
  files: { readonly readSecretFile: ReadSecretFile; readonly checkPem: CheckPem },
  issues: string[],
): TargetConfig {
  const field = `targets[${index}]`;
  // A TLS file is named by the target or inherited from defaults: the error quotes the one that was written.
  const readTlsFile = (file: string, key: 'ca' | 'cert' | 'key') =>
    files.readSecretFile(file, raw.tls?.[key] !== undefined ? ['targets', index, 'tls', key] : ['defaults', 'tls', key], `${field}.tls.${key}`);
  const tls = resolveTls({ ...defaults.tls, ...raw.tls }, field, { readTlsFile, checkPem: files.checkPem }, issues);
  const timeoutMs = raw.timeout ?? defaults.timeout ?? 5_000;
  const ttlMs = raw.key?.ttl ?? defaults.key?.ttl ?? 60_000;
  return {
    name: raw.name,
    host: raw.host,
    port: raw.port ?? (tls.enabled ? 6380 : 6379),
    db: raw.db ?? 0,
    ...(raw.credential !== undefined ? { credential: raw.credential } : {}),
    labels: raw.labels ?? {},
    schedule: raw.schedule ?? defaults.schedule ?? DEFAULT_SCHEDULE,
    timeoutMs,
    tls,
    key: { prefix: raw.key?.prefix ?? defaults.key?.prefix ?? 'redis-probe:', ttlMs },
    steps: raw.steps ?? defaults.steps ?? COMMAND_STEPS,
    // toPrecision: 99.9 / 100 is 0.9990000000000001 in binary floating point; the gauge should read 0.999.
    sla: { objective: Number(((raw.sla?.objective ?? defaults.sla?.objective ?? DEFAULT_SLA_OBJECTIVE_PERCENT) / 100).toPrecision(12)) },
    maintenanceEvents: raw.maintenanceEvents ?? isAzureCacheHost(raw.host),
    ...resolveCluster(raw, raw.key?.prefix ?? defaults.key?.prefix, field, issues),
  };
}

/** `cluster: true` with its natMap and refresh period; the other cluster keys alone are mistakes. */
function resolveCluster(raw: RawTarget, keyPrefix: string | undefined, field: string, issues: string[]): Pick<TargetConfig, 'cluster'> {
  if (raw.cluster !== true) {
    for (const key of ['natMap', 'clusterRefresh'] as const) {
      if (raw[key] !== undefined) issues.push(`${field}.${key}: only applies to a cluster; set cluster: true or remove it`);
    }
    return {};
  }
  if (raw.db !== undefined && raw.db !== 0) issues.push(`${field}.db: a Redis Cluster serves only database 0; remove db`);
  if (keyPrefix !== undefined && /[{}]/.test(keyPrefix)) {
    issues.push(`${field}.key.prefix: must not contain "{" or "}" on a cluster target; the probe adds its own {hash tag} to reach each node's slots`);
  }
  const natMap: Record<string, { host: string; port: number }> = {};
  for (const [announced, reachable] of Object.entries(raw.natMap ?? {})) {
    const from = parseAddress(announced);
    const to = typeof reachable === 'string' ? parseAddress(reachable) : undefined;
    // Malformed entries were reported by the schema; keys are normalised so "[::1]:1" and lookups agree.
    if (from && to) natMap[formatAddress(from)] = to;
  }
  return { cluster: { natMap, refreshMs: raw.clusterRefresh ?? 60_000 } };
}

/** Azure Cache for Redis (including private link names) publishes maintenance notifications. */
function isAzureCacheHost(host: string): boolean {
  return host.toLowerCase().replace(/\.$/, '').endsWith('.redis.cache.windows.net');
}

function resolveTls(
  raw: RawTls,
  field: string,
  files: { readonly readTlsFile: (file: string, key: 'ca' | 'cert' | 'key') => string; readonly checkPem: CheckPem },
  issues: string[],
): TlsConfig {
  const enabled = raw.enabled ?? true;
  if ((raw.cert === undefined) !== (raw.key === undefined)) {
    issues.push(`${field}.tls: cert and key go together for client certificates; set both or neither`);
  }
  // Checked here rather than at the first handshake, where garbage would fail every cycle as reason `tls`.
  const read = (path: string | undefined, name: 'ca' | 'cert' | 'key'): string | undefined => {
    if (!enabled || path === undefined) return undefined;
    const before = issues.length;
    const pem = files.readTlsFile(path, name);
    if (issues.length > before) return '';
    const problem = pem === '' ? 'the file is empty; put the PEM text in it' : files.checkPem.problem(name === 'key' ? 'key' : 'certificate', pem);
    if (problem !== undefined) issues.push(`${field}.tls.${name}: ${problem}`);
    return problem === undefined ? pem : '';
  };
  const ca = read(raw.ca, 'ca');
  const cert = read(raw.cert, 'cert');
  const key = read(raw.key, 'key');
  if (cert && key && !files.checkPem.pairMatches(cert, key)) {
    issues.push(`${field}.tls: the key in key is not the private key of the certificate in cert; give the pair that belongs together`);
  }
  return {
    enabled,
    verify: raw.verify ?? true,
    ...(raw.servername !== undefined ? { servername: raw.servername } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}
