import { isIP } from 'node:net';
import { z } from 'zod';
import { validate as isValidCron } from 'node-cron';
import { COMMAND_STEPS } from '../shared/probe-result.ts';
import { parseDurationMs } from './duration.ts';
import { parseAddress } from '../shared/address.ts';
import { MAX_TIMER_DELAY_MS } from '../shared/clock.ts';

/** The YAML file's shape. Unknown keys are errors; defaults are filled in by resolveConfig, not here. */

const duration = (what: string, minMs = 1) =>
  z
    .string({ error: `must be a duration string such as "500ms", "5s" or "2m" (${what})` })
    .refine((text) => parseDurationMs(text) !== undefined, {
      error: `must be a duration such as "500ms", "5s", "2m" or "1h" (${what})`,
    })
    .transform((text) => parseDurationMs(text) as number)
    .refine((ms) => ms >= minMs, { error: `must be at least ${minMs}ms (${what})` })
    // Node runs a longer timer after 1 ms instead, so "30d" would mean "at once".
    .refine((ms) => ms <= MAX_TIMER_DELAY_MS, { error: `must be at most 24d (${what})` });

/** Error text for a required field: "is required" when absent, `message` when mistyped. */
const required = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message);

const name = z.string({ error: required('must be a string') }).regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, {
  error: 'must be 1-100 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
});

/** `${VAR}` substitution yields a string: one that reads as a number is that number (`port: ${PORT}`). */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((input) => (typeof input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(input) ? Number(input) : input), schema);

const port = numeric(
  z
    .number({ error: 'must be a number 1-65535' })
    .int({ error: 'must be a whole number 1-65535' })
    .min(1, { error: 'must be 1-65535' })
    .max(65535, { error: 'must be 1-65535' }),
);

/** A `location` label value, from the file or from REDIS_PROBE_LOCATION. */
export const LOCATION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;
export const LOCATION_RULE = 'must be 1-63 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit';

const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const cronSchedule = z.string({ error: 'must be a cron expression string' }).refine((expression) => isValidCron(expression), {
  error: 'is not a valid cron expression; use 6 fields with seconds first, e.g. "*/15 * * * * *" for every 15 s',
});

const tls = z.strictObject({
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
  ca: z.string({ error: 'must be a path to a PEM file' }).optional(),
  cert: z.string({ error: 'must be a path to a PEM file' }).optional(),
  key: z.string({ error: 'must be a path to a PEM file' }).optional(),
  servername: z.string({ error: 'must be a host name' }).optional(),
  verify: z.boolean({ error: 'must be true or false' }).optional(),
});

const probeKey = z.strictObject({
  prefix: z.string({ error: 'must be a string' }).optional(),
  ttl: duration('how long a probe key may live', 1000).optional(),
});

const steps = z
  .array(z.enum(COMMAND_STEPS, { error: `must be one of ${COMMAND_STEPS.join(', ')}` }), {
    error: `must be a list drawn from ${COMMAND_STEPS.join(', ')}`,
  })
  .min(1, { error: 'must name at least one step' })
  .refine((list) => new Set(list).size === list.length, { error: 'must not repeat a step' });

/** Azure states its SLAs in percent, so the objective is one too; a ratio such as 0.999 is a likely slip. */
const sla = z.strictObject({
  objective: z
    .number({ error: 'must be a percentage such as 99.9' })
    .min(50, { error: 'must be a percentage from 50 to below 100, such as 99.9 (not a ratio like 0.999)' })
    .lt(100, { error: 'must be below 100: a 100 % objective leaves no error budget (use e.g. 99.99)' })
    .optional(),
});

/** Settings a target inherits from `defaults` and may override one by one. */
const probeSettings = {
  sla: sla.optional(),
  schedule: cronSchedule.optional(),
  timeout: duration('per-step timeout').optional(),
  tls: tls.optional(),
  key: probeKey.optional(),
  steps: steps.optional(),
};

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = ['target', 'host', 'port', 'tls', 'node', 'step', 'reason', 'location', 'credential'];

const labels = z.record(z.string(), z.string({ error: 'label values must be strings' })).superRefine((record, ctx) => {
  for (const key of Object.keys(record)) {
    if (!labelName.test(key) || key.startsWith('__')) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading "__")' });
    } else if (RESERVED_LABELS.includes(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `is reserved by redis-probe; choose another name (reserved: ${RESERVED_LABELS.join(', ')})` });
    }
  }
});

const accessKeyCredential = z.strictObject({
  name,
  type: z.literal('access-key'),
  username: z.string({ error: 'must be an ACL user name' }).min(1).optional(),
  password: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).optional(),
  passwordFile: z.string({ error: 'must be a file path' }).optional(),
  passwordEnv: z.string({ error: 'must be an environment variable name' }).optional(),
});

const ENTRA_SOURCES = ['default', 'workload-identity', 'managed-identity', 'client-secret', 'azure-cli'] as const;

const entraCredential = z.strictObject({
  name,
  type: z.literal('entra'),
  source: z.enum(ENTRA_SOURCES, { error: `must be one of ${ENTRA_SOURCES.join(', ')}` }).optional(),
  scope: z.string({ error: 'must be a string' }).optional(),
  username: z.string({ error: 'must be the principal object id' }).min(1).optional(),
  tenantId: z.string({ error: 'must be a string' }).optional(),
  clientId: z.string({ error: 'must be a string' }).optional(),
  clientSecretFile: z.string({ error: 'must be a file path' }).optional(),
  clientSecretEnv: z.string({ error: 'must be an environment variable name' }).optional(),
  authorityHost: z.url({ error: 'must be a URL' }).optional(),
  /** For private clouds and authorities behind an inspecting proxy; off by default. */
  disableInstanceDiscovery: z.boolean({ error: 'must be true or false' }).optional(),
  /** Extra CA (PEM file) trusted for the authority host, on top of the system roots. */
  authorityCa: z.string({ error: 'must be a path to a PEM file' }).optional(),
  refreshBeforeExpiry: duration('how long before expiry to refresh the token').optional(),
  requestTimeout: duration('timeout of one token request').optional(),
  retry: z
    .strictObject({
      initialDelay: duration('first retry delay').optional(),
      maxDelay: duration('longest retry delay').optional(),
    })
    .optional(),
});

const credential = z.discriminatedUnion('type', [accessKeyCredential, entraCredential], {
  error: 'type must be "access-key" or "entra"',
});

/** Announced cluster node address → the address to connect to (NAT, port forwarding, private endpoints). */
const natMap = z
  // Values are checked in the refinement (not typed as strings) so that every bad entry is reported at once.
  .record(z.string(), z.unknown(), { error: 'must be a map of "announced-host:port": "reachable-host:port"' })
  .superRefine((record, ctx) => {
    for (const [announced, reachable] of Object.entries(record)) {
      if (parseAddress(announced) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `key "${announced}" is not an announced "host:port" as CLUSTER SHARDS reports it (e.g. "10.0.0.4:15000", IPv6 as "[fd00::4]:15000")`,
        });
      }
      if (typeof reachable !== 'string' || parseAddress(reachable) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `"${announced}" maps to ${JSON.stringify(reachable)}, which is not a reachable "host:port" (e.g. "cache.example.net:15000")`,
        });
      }
    }
  });

const target = z.strictObject({
  name,
  host: z.string({ error: required('must be a host name or IP address') }).min(1, { error: 'must not be empty' }),
  port: port.optional(),
  // Most servers have databases 0-15, but `databases` can raise that: above 15 is a warning (see warnings.ts).
  db: numeric(
    z.number({ error: 'must be a whole number from 0' }).int({ error: 'must be a whole number from 0' }).min(0, { error: 'must be a whole number from 0' }),
  ).optional(),
  credential: z.string({ error: 'must name an entry of credentials' }).optional(),
  labels: labels.optional(),
  // Default: on for Azure Cache for Redis hosts (*.redis.cache.windows.net), which publish them.
  maintenanceEvents: z.boolean({ error: 'must be true or false' }).optional(),
  // Redis Cluster (OSS cluster API): discover the primaries through host:port and probe every one of them.
  cluster: z.boolean({ error: 'must be true or false' }).optional(),
  natMap: natMap.optional(),
  clusterRefresh: duration('how often the cluster topology is re-read', 1000).optional(),
  ...probeSettings,
});

export const configFileSchema = z.strictObject({
  server: z
    .strictObject({
      host: z
        .string({ error: 'must be an address to listen on' })
        .refine((host) => isIP(host) !== 0 || HOST_NAME.test(host), {
          error: 'must be an IP address (0.0.0.0 for every IPv4 address, :: for every address) or a host name',
        })
        .optional(),
      port: port.optional(),
      shutdownGrace: duration('time in-flight cycles get on SIGTERM').optional(),
      // The exporter-toolkit web config (TLS, basic auth); --web.config.file overrides it.
      webConfigFile: z.string({ error: 'must be a file path' }).min(1, { error: 'must not be empty' }).optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug'], { error: 'must be one of error, warn, info, debug' }).optional(),
      format: z.enum(['json', 'pretty'], { error: 'must be json or pretty' }).optional(),
      // failures (default): a successful cycle is logged at debug only; all: at info too.
      cycles: z.enum(['all', 'failures'], { error: 'must be all or failures' }).optional(),
    })
    .optional(),
  metrics: z
    .strictObject({
      // standard (default): about 35 series per target; full: failures by step × reason and fine latency buckets.
      detail: z.enum(['standard', 'full'], { error: 'must be standard or full' }).optional(),
      // false drops per-step latency (redis_probe_step_duration_seconds); the cycle histogram stays.
      stepHistograms: z.boolean({ error: 'must be true or false' }).optional(),
      // true starts every failure series at 0 (default: true with detail full, false with standard).
      preinitialiseFailures: z.boolean({ error: 'must be true or false' }).optional(),
    })
    .optional(),
  location: z
    .string({ error: 'must be a string such as westeurope' })
    .regex(LOCATION_PATTERN, { error: `${LOCATION_RULE} (e.g. westeurope)` })
    .optional(),
  shard: z
    .strictObject({
      index: numeric(
        z.number({ error: 'must be a whole number from 0' }).int({ error: 'must be a whole number from 0' }).min(0, { error: 'must be 0 or more' }),
      ).optional(),
      count: numeric(
        z.number({ error: 'must be a whole number from 1' }).int({ error: 'must be a whole number from 1' }).min(1, { error: 'must be 1 or more' }),
      ).optional(),
      // A StatefulSet pod is named <set>-<ordinal>: the ordinal is the index.
      fromHostname: z.boolean({ error: 'must be true or false' }).optional(),
    })
    .optional(),
  defaults: z.strictObject(probeSettings).optional(),
  credentials: z.array(credential, { error: 'must be a list of credentials' }).optional(),
  targets: z.array(target, { error: required('must be a list of targets') }).min(1, { error: 'must list at least one target' }),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type RawTarget = z.infer<typeof target>;
export type RawCredential = z.infer<typeof credential>;
export type RawTls = z.infer<typeof tls>;
export type EntraSourceName = (typeof ENTRA_SOURCES)[number];
