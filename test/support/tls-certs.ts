import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A certificate and its private key, as files (for redis-server) and as PEM text (for TLS clients). */
export interface CertKeyPair {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Everything a TLS test needs: a trusted CA, an unrelated CA, and good and deliberately bad leaf certs. */
export interface TlsCerts {
  readonly dir: string;
  /** The CA that signed every leaf below: clients trust it with `tls: { ca: caCertPem }`. */
  readonly ca: CertKeyPair;
  /** A CA that signed nothing here: clients trusting only it must fail verification. */
  readonly otherCa: CertKeyPair;
  /** Valid server cert, SAN `DNS:localhost, IP:127.0.0.1` plus `extraSans`. */
  readonly server: CertKeyPair;
  /** Same SANs as `server`, signed by `ca`, but valid only 2020-01-01..2020-01-02. */
  readonly expiredServer: CertKeyPair;
  /** Valid and signed by `ca`, but its only SAN is `DNS:wrong.example`. */
  readonly wrongHostServer: CertKeyPair;
  /** Client cert signed by `ca`, for mutual TLS. */
  readonly client: CertKeyPair;
  /** notAfter of `server`, epoch milliseconds. */
  readonly serverNotAfterMs: number;
  /** notAfter of `expiredServer`, epoch milliseconds (in the past). */
  readonly expiredServerNotAfterMs: number;
}

/** Options for {@link generateTlsCerts}. */
export interface TlsCertOptions {
  /** Additional SAN entries for `server` and `expiredServer`, e.g. `['DNS:redis.test', 'IP:::1']`. */
  readonly extraSans?: readonly string[];
  /** Validity of `server` and `client` in days (default 30), for certificate-expiry tests. */
  readonly serverDays?: number;
}

/** openssl failed; the message carries its stderr because that is the only useful diagnostic. */
export class OpensslError extends Error {
  override readonly name = 'OpensslError';
}

// OpenSSL 3.0 (Debian's) has no -not_before/-not_after and rejects negative -days,
// so the expired cert goes through `openssl ca`, which takes explicit dates.
const EXPIRED_START = '20200101000000Z';
const EXPIRED_END = '20200102000000Z';

function opensslConfig(sans: string): string {
  // A private config isolates us from the distro's openssl.cnf (whose v3_ca would
  // otherwise mark leaf certs CA:TRUE).
  return `[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = ${sans}
[ wrong_host_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = DNS:wrong.example
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial.txt
new_certs_dir = ca-db
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
`;
}

async function openssl(cwd: string, args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 10_000 });
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw new OpensslError(`openssl ${args.join(' ')} failed: ${String(stderr ?? err)}`, { cause: err });
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function pair(dir: string, name: string): Promise<CertKeyPair> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { certPath, keyPath, certPem, keyPem };
}

async function selfSignedCa(dir: string, name: string, cn: string): Promise<CertKeyPair> {
  await openssl(dir, [
    'req',
    '-x509',
    '-config',
    'openssl.cnf',
    '-extensions',
    'ca_ext',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '3650',
  ]);
  return pair(dir, name);
}

async function signedLeaf(dir: string, name: string, cn: string, extensions: string, days: number): Promise<CertKeyPair> {
  // OpenSSL 3.0's `req -x509 -CA` issues a CA-signed cert in one process (faster than req + x509).
  await openssl(dir, [
    'req',
    '-x509',
    '-config',
    'openssl.cnf',
    '-extensions',
    extensions,
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${cn}`,
    '-days',
    String(days),
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
  ]);
  return pair(dir, name);
}

async function expiredLeaf(dir: string, name: string): Promise<CertKeyPair> {
  await openssl(dir, ['req', '-new', '-config', 'openssl.cnf', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost']);
  await openssl(dir, [
    'ca',
    '-batch',
    '-config',
    'openssl.cnf',
    '-extensions',
    'server_ext',
    '-notext',
    '-cert',
    'ca.crt',
    '-keyfile',
    'ca.key',
    '-in',
    `${name}.csr`,
    '-out',
    `${name}.crt`,
    '-startdate',
    EXPIRED_START,
    '-enddate',
    EXPIRED_END,
  ]);
  return pair(dir, name);
}

/**
 * Generates a fresh CA and leaf certs into `dir` (created if needed) with the `openssl` CLI.
 * EC P-256 keys keep this around 100 ms.
 */
export async function generateTlsCerts(dir: string, options: TlsCertOptions = {}): Promise<TlsCerts> {
  const sans = ['DNS:localhost', 'IP:127.0.0.1', ...(options.extraSans ?? [])].join(',');
  const days = options.serverDays ?? 30;
  await mkdir(join(dir, 'ca-db'), { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'openssl.cnf'), opensslConfig(sans)),
    writeFile(join(dir, 'ca-db', 'index.txt'), ''),
    writeFile(join(dir, 'ca-db', 'serial.txt'), '1000\n'),
  ]);
  const [ca, otherCa] = await Promise.all([selfSignedCa(dir, 'ca', 'redis-probe test CA'), selfSignedCa(dir, 'other-ca', 'unrelated test CA')]);
  const [server, expiredServer, wrongHostServer, client] = await Promise.all([
    signedLeaf(dir, 'server', 'localhost', 'server_ext', days),
    expiredLeaf(dir, 'expired-server'),
    signedLeaf(dir, 'wrong-host-server', 'wrong.example', 'wrong_host_ext', days),
    signedLeaf(dir, 'client', 'redis-probe-client', 'client_ext', days),
  ]);
  return {
    dir,
    ca,
    otherCa,
    server,
    expiredServer,
    wrongHostServer,
    client,
    serverNotAfterMs: new X509Certificate(server.certPem).validToDate.getTime(),
    expiredServerNotAfterMs: new X509Certificate(expiredServer.certPem).validToDate.getTime(),
  };
}
