import { X509Certificate, createPrivateKey } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { describeFsError, formatPath } from '../config/issues.ts';
import { errorMessage } from '../shared/error-text.ts';

/**
 * The Prometheus exporter-toolkit web configuration (`--web.config.file`): TLS and basic auth for the
 * HTTP endpoints, in the format every exporter built on the toolkit reads, so one file serves them all.
 */

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
type TlsVersionName = keyof typeof TLS_VERSIONS;

/** The server side of TLS, every file read and checked at start. */
export interface WebTlsConfig {
  readonly certPem: string;
  readonly keyPem: string;
  /** CAs that sign acceptable client certificates. */
  readonly clientCaPem?: string;
  readonly clientAuth: ClientAuthType;
  /** A client certificate must carry one of these SANs (DNS, IP, e-mail or URI), exactly. */
  readonly clientAllowedSans?: readonly string[];
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface WebConfig {
  /** Absent: plain HTTP. */
  readonly tls?: WebTlsConfig;
  /** User name → bcrypt hash; empty: no basic auth. */
  readonly basicAuthUsers: ReadonlyMap<string, string>;
}

/** A web config that must not start a listener; `issues` name each field and its fix. */
export class WebConfigError extends Error {
  override readonly name = 'WebConfigError';
  readonly issues: readonly string[];
  constructor(path: string, issues: readonly string[]) {
    super(`invalid web config ${path}:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.issues = issues;
  }
}

/** bcrypt as htpasswd -B and the toolkit's docs produce it: $2a$/$2b$/$2y$, cost, 53 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const tlsVersion = z.enum(Object.keys(TLS_VERSIONS) as [TlsVersionName, ...TlsVersionName[]], { error: 'must be TLS12 or TLS13' });
const fileName = z.string({ error: 'must be a file path' }).min(1, { error: 'must not be empty' });
const pem = z.string({ error: 'must be PEM text' }).min(1, { error: 'must not be empty' });
const unsupported = (why: string) => z.unknown().refine(() => false, { error: `is not supported by redis-probe (${why}); remove it` });

const webConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert: pem.optional(),
      key: pem.optional(),
      client_ca: pem.optional(),
      cert_file: fileName.optional(),
      key_file: fileName.optional(),
      client_ca_file: fileName.optional(),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES, { error: `must be one of ${CLIENT_AUTH_TYPES.join(', ')}` }).optional(),
      client_allowed_sans: z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of SANs' }).optional(),
      min_version: tlsVersion.optional(),
      max_version: tlsVersion.optional(),
      cipher_suites: unsupported("Node's OpenSSL defaults apply").optional(),
      prefer_server_cipher_suites: unsupported("Node's OpenSSL defaults apply").optional(),
      curve_preferences: unsupported("Node's OpenSSL defaults apply").optional(),
    })
    .nullish(),
  http_server_config: z
    .strictObject({
      // Accepted so a file shared with other exporters loads; redis-probe serves HTTP/1.1 only.
      http2: z.boolean({ error: 'must be true or false' }).optional(),
      headers: unsupported('the status page sets its own security headers').optional(),
    })
    .nullish(),
  basic_auth_users: z.record(z.string(), z.string({ error: 'must be a bcrypt hash string' }), { error: 'must be a map of user name: bcrypt hash' }).nullish(),
  rate_limit: unsupported('scrapes are cheap and slow clients are cut off').optional(),
});

/** What loading reads from the outside world. */
export interface WebConfigSources {
  readonly readFile: (path: string) => string;
}

/** Reads and checks a web config; relative file names resolve against its directory. Throws WebConfigError. */
export function loadWebConfig(path: string, sources: WebConfigSources): WebConfig {
  let text: string;
  try {
    text = sources.readFile(path);
  } catch (error) {
    throw new WebConfigError(path, [`cannot read the file (${describeFsError(error)}); check --web.config.file or server.webConfigFile`]);
  }
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new WebConfigError(
      path,
      document.errors.map((error) => `yaml: ${error.message.split('\n')[0] ?? ''}; fix the YAML syntax`),
    );
  }
  let raw: unknown;
  try {
    raw = document.toJS();
  } catch (error) {
    throw new WebConfigError(path, [`yaml: ${errorMessage(error)}; fix the YAML syntax`]);
  }
  const parsed = webConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new WebConfigError(
      path,
      parsed.error.issues.map((issue) =>
        issue.code === 'unrecognized_keys'
          ? `${formatPath(issue.path)}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}; remove or correct it (see the exporter-toolkit web configuration)`
          : `${formatPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`,
      ),
    );
  }
  const issues: string[] = [];
  const baseDir = dirname(resolve(path));
  const read = (file: string, field: string): string | undefined => {
    try {
      return sources.readFile(resolve(baseDir, file));
    } catch (error) {
      issues.push(`${field}: cannot read ${file} (${describeFsError(error)}); check the path (relative paths start at the web config's directory)`);
      return undefined;
    }
  };
  const tls = resolveTls(parsed.data.tls_server_config ?? undefined, read, issues);
  const basicAuthUsers = new Map<string, string>();
  for (const [user, hash] of Object.entries(parsed.data.basic_auth_users ?? {})) {
    const field = `basic_auth_users[${JSON.stringify(user)}]`;
    if (user === '' || user.includes(':')) issues.push(`${field}: a user name must be non-empty and contain no ":" (basic auth splits on it)`);
    const cost = BCRYPT_HASH.exec(hash)?.[1];
    // The hash is not a secret, but a pasted plain password would be: never echo the value.
    if (cost === undefined) issues.push(`${field}: is not a bcrypt hash; generate one with \`htpasswd -nBC 10 "" | tr -d ':\\n'\``);
    else if (Number(cost) < 4 || Number(cost) > 31) issues.push(`${field}: bcrypt cost ${cost} is outside 4-31; generate the hash again`);
    basicAuthUsers.set(user, hash);
  }
  if (issues.length > 0) throw new WebConfigError(path, issues);
  return { ...(tls ? { tls } : {}), basicAuthUsers };
}

type RawTls = NonNullable<z.infer<typeof webConfigSchema>['tls_server_config']>;

function resolveTls(raw: RawTls | undefined, read: (file: string, field: string) => string | undefined, issues: string[]): WebTlsConfig | undefined {
  if (raw === undefined) return undefined;
  const field = 'tls_server_config';
  const pick = (inline: string | undefined, file: string | undefined, inlineKey: string, fileKey: string): string | undefined => {
    if (inline !== undefined && file !== undefined) {
      issues.push(`${field}: set either ${inlineKey} or ${fileKey}, not both`);
      return undefined;
    }
    return inline ?? (file !== undefined ? read(file, `${field}.${fileKey}`) : undefined);
  };
  const certPem = pick(raw.cert, raw.cert_file, 'cert', 'cert_file');
  const keyPem = pick(raw.key, raw.key_file, 'key', 'key_file');
  const clientCaPem = pick(raw.client_ca, raw.client_ca_file, 'client_ca', 'client_ca_file');
  const clientAuth = raw.client_auth_type ?? 'NoClientCert';
  const given = [raw.cert, raw.cert_file, raw.key, raw.key_file].some((value) => value !== undefined);
  // An empty tls_server_config means plain HTTP, as in the toolkit; half of one is a mistake.
  if (!given) {
    if (raw.client_auth_type !== undefined || clientCaPem !== undefined) issues.push(`${field}: client authentication needs TLS; set cert_file and key_file`);
    return undefined;
  }
  if (raw.cert === undefined && raw.cert_file === undefined)
    issues.push(`${field}.cert_file: is required with key_file; set the server certificate's PEM file`);
  if (raw.key === undefined && raw.key_file === undefined) issues.push(`${field}.key_file: is required with cert_file; set the server key's PEM file`);
  if (certPem !== undefined) {
    try {
      new X509Certificate(certPem);
    } catch {
      issues.push(`${field}.${raw.cert !== undefined ? 'cert' : 'cert_file'}: is not a PEM certificate; give the server certificate (PEM, leaf first)`);
    }
  }
  if (keyPem !== undefined) {
    try {
      createPrivateKey(keyPem);
    } catch {
      issues.push(`${field}.${raw.key !== undefined ? 'key' : 'key_file'}: is not an unencrypted PEM private key; give the key of cert_file`);
    }
  }
  if (clientCaPem !== undefined && clientAuth === 'NoClientCert') {
    issues.push(
      `${field}.client_ca_file: client CAs are set but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert or remove client_ca_file`,
    );
  }
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && clientCaPem === undefined) {
    issues.push(`${field}.client_ca_file: is required with client_auth_type ${clientAuth}; set the CA that signs client certificates`);
  }
  if (raw.client_allowed_sans !== undefined && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    issues.push(
      `${field}.client_allowed_sans: needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert (otherwise a client may send no certificate to match)`,
    );
  }
  const minName = raw.min_version ?? 'TLS12';
  const maxName = raw.max_version ?? 'TLS13';
  const minVersion = TLS_VERSIONS[minName];
  const maxVersion = TLS_VERSIONS[maxName];
  if (minVersion > maxVersion) issues.push(`${field}.min_version: ${minName} is above max_version ${maxName}; lower min_version or raise max_version`);
  if (certPem === undefined || keyPem === undefined) return undefined;
  if (issues.length === 0) {
    try {
      createSecureContext({ cert: certPem, key: keyPem, ...(clientCaPem !== undefined ? { ca: clientCaPem } : {}) });
    } catch (error) {
      issues.push(
        `${field}: the certificate, key and client CA do not form a usable TLS setup (${errorMessage(error)}); check that key_file is cert_file's key`,
      );
    }
  }
  return {
    certPem,
    keyPem,
    ...(clientCaPem !== undefined ? { clientCaPem } : {}),
    clientAuth,
    ...(raw.client_allowed_sans !== undefined ? { clientAllowedSans: raw.client_allowed_sans } : {}),
    minVersion,
    maxVersion,
  };
}
