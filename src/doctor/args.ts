import { parseArgs } from 'node:util';
import { parseDurationMs } from '../config/duration.ts';
import { errorMessage } from '../shared/error-text.ts';

export const DOCTOR_USAGE = `usage: redis-probe doctor --config FILE [--target NAME] [--format text|json]
       redis-probe doctor --host H [--port P] [--tls | --no-tls] [--ca FILE] [--servername S]
                          [--user U] [--password-env VAR | --password-file F] [--entra SOURCE]
                          [--timeout D] [--format text|json]

Walks dns, tcp, tls, (token,) auth, ping, set, get, client_list one layer at a time and says which
layer fails and what to do about it. Without --config the target is built from the flags with the
daemon's defaults (TLS on, port 6380 with TLS, 6379 without).

exit codes: 0 every layer passed, 1 a layer failed, 2 usage or configuration error`;

/** The doctor command line, checked: either a config file or an ad hoc target. */
export type DoctorArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'config'; readonly configPath: string; readonly target?: string; readonly format: DoctorFormat }
  | { readonly kind: 'adhoc'; readonly adhoc: AdHocTarget; readonly format: DoctorFormat };

export type DoctorFormat = 'text' | 'json';

/** The ad hoc flags, as given; the config schema checks and completes them. */
export interface AdHocTarget {
  readonly host: string;
  readonly port?: string;
  readonly tls?: boolean;
  readonly ca?: string;
  readonly servername?: string;
  readonly user?: string;
  readonly passwordEnv?: string;
  readonly passwordFile?: string;
  readonly entra?: string;
  readonly timeout?: string;
}

/** A command line that cannot run; the message names the flag and the fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const AD_HOC_FLAGS = ['host', 'port', 'tls', 'ca', 'servername', 'user', 'password-env', 'password-file', 'entra', 'timeout'] as const;

export function parseDoctorArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): DoctorArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      allowNegative: true,
      options: {
        config: { type: 'string', short: 'c' },
        target: { type: 'string', short: 't' },
        format: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        tls: { type: 'boolean' },
        ca: { type: 'string' },
        servername: { type: 'string' },
        user: { type: 'string' },
        'password-env': { type: 'string' },
        'password-file': { type: 'string' },
        entra: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const values = parsed.values;
  if (values.help) return { kind: 'help' };
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format: must be text or json (got "${format}")`);
  const adHocGiven = AD_HOC_FLAGS.filter((flag) => values[flag] !== undefined);
  const configPath = values.config ?? (adHocGiven.length === 0 ? env['REDIS_PROBE_CONFIG'] : undefined);
  if (configPath !== undefined) {
    if (adHocGiven.length > 0)
      throw new UsageError(
        `--config and --${adHocGiven.join(', --')} do not go together: give a config file, or describe one target with --host and its flags`,
      );
    return { kind: 'config', configPath, ...(values.target !== undefined ? { target: values.target } : {}), format };
  }
  if (values.host === undefined) throw new UsageError('give --config FILE (or REDIS_PROBE_CONFIG), or --host H for an ad hoc target');
  if (values.target !== undefined) throw new UsageError('--target picks a target of --config; an ad hoc --host target needs none');
  if (values['password-env'] !== undefined && values['password-file'] !== undefined) {
    throw new UsageError('--password-env and --password-file: give one of them');
  }
  if (values.entra !== undefined && (values['password-env'] !== undefined || values['password-file'] !== undefined)) {
    throw new UsageError('--entra and --password-env/--password-file: an Entra credential has no password; give one kind of credential');
  }
  if (values.user !== undefined && values.entra === undefined && values['password-env'] === undefined && values['password-file'] === undefined) {
    throw new UsageError('--user needs --password-env VAR or --password-file F (the access key), or --entra SOURCE');
  }
  if (values.timeout !== undefined && parseDurationMs(values.timeout) === undefined) {
    throw new UsageError(`--timeout: must be a duration such as "500ms", "5s" or "2m" (got "${values.timeout}")`);
  }
  const adhoc: AdHocTarget = {
    host: values.host,
    ...(values.port !== undefined ? { port: values.port } : {}),
    ...(values.tls !== undefined ? { tls: values.tls } : {}),
    ...(values.ca !== undefined ? { ca: values.ca } : {}),
    ...(values.servername !== undefined ? { servername: values.servername } : {}),
    ...(values.user !== undefined ? { user: values.user } : {}),
    ...(values['password-env'] !== undefined ? { passwordEnv: values['password-env'] } : {}),
    ...(values['password-file'] !== undefined ? { passwordFile: values['password-file'] } : {}),
    ...(values.entra !== undefined ? { entra: values.entra } : {}),
    ...(values.timeout !== undefined ? { timeout: values.timeout } : {}),
  };
  return { kind: 'adhoc', adhoc, format };
}

/** Where each config field of an ad hoc target came from, so a config error names the flag. */
const FIELD_FLAGS: readonly (readonly [string, string])[] = [
  ['targets[0].host', '--host'],
  ['targets[0].port', '--port'],
  ['targets[0].tls.enabled', '--tls/--no-tls'],
  ['targets[0].tls.ca', '--ca'],
  ['targets[0].tls.servername', '--servername'],
  ['targets[0].timeout', '--timeout'],
  ['credentials[0].username', '--user'],
  ['credentials[0].passwordEnv', '--password-env'],
  ['credentials[0].passwordFile', '--password-file'],
  ['credentials[0].source', '--entra'],
  ['credentials[0]', 'the credential flags'],
  ['targets[0]', '--host'],
];

/** Rewrites a config issue about the ad hoc target in terms of the flag that set the field. */
export function issueInFlags(issue: string): string {
  for (const [field, flag] of FIELD_FLAGS) {
    if (issue.startsWith(`${field}:`) || issue.startsWith(`${field}.`)) return `${flag}${issue.slice(field.length)}`;
  }
  return issue;
}

/**
 * The raw config (the YAML file's shape) of an ad hoc target, so the daemon's schema and resolver check it
 * and fill its defaults. Every `$` is doubled: flag values are literal, not `${VAR}` references.
 */
export function adHocConfigText(adhoc: AdHocTarget): string {
  const credential =
    adhoc.entra !== undefined
      ? { name: 'cli', type: 'entra', source: adhoc.entra, ...(adhoc.user !== undefined ? { username: adhoc.user } : {}) }
      : adhoc.passwordEnv !== undefined || adhoc.passwordFile !== undefined
        ? {
            name: 'cli',
            type: 'access-key',
            ...(adhoc.user !== undefined ? { username: adhoc.user } : {}),
            ...(adhoc.passwordEnv !== undefined ? { passwordEnv: adhoc.passwordEnv } : {}),
            ...(adhoc.passwordFile !== undefined ? { passwordFile: adhoc.passwordFile } : {}),
          }
        : undefined;
  const tls = {
    ...(adhoc.tls !== undefined ? { enabled: adhoc.tls } : {}),
    ...(adhoc.ca !== undefined ? { ca: adhoc.ca } : {}),
    ...(adhoc.servername !== undefined ? { servername: adhoc.servername } : {}),
  };
  // A port that is not a number reaches the schema as text, which reports it as "--port: must be a number".
  const port = adhoc.port === undefined ? undefined : /^\d{1,6}$/.test(adhoc.port) ? Number(adhoc.port) : adhoc.port;
  const name = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(adhoc.host) ? adhoc.host : 'ad-hoc';
  const raw = {
    ...(credential ? { credentials: [credential] } : {}),
    targets: [
      {
        name,
        host: adhoc.host,
        ...(port !== undefined ? { port } : {}),
        ...(Object.keys(tls).length > 0 ? { tls } : {}),
        ...(adhoc.timeout !== undefined ? { timeout: adhoc.timeout } : {}),
        ...(credential ? { credential: 'cli' } : {}),
      },
    ],
  };
  return JSON.stringify(raw).replaceAll('$', '$$$$');
}
