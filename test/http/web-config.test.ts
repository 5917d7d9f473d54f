import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { Counter } from 'prom-client';
import { ProbeRegistry } from '../../src/metrics/registry.ts';
import { startHttpServer } from '../../src/http/http-server.ts';
import type { HttpServer } from '../../src/http/http-server.ts';
import { WebConfigError, loadWebConfig } from '../../src/http/web-config.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { TlsCerts } from '../support/tls-certs.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, runCli, spawnCli } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';

const silent: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  isEnabled: () => false,
  flush: () => Promise.resolve(),
};

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

interface ClientOptions {
  readonly auth?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** One GET over HTTPS (or HTTP for an http: URL), with the TLS client settings a scraper would use. */
function get(url: string, options: ClientOptions = {}): Promise<Answer> {
  const https = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const headers = options.auth !== undefined ? { Authorization: `Basic ${Buffer.from(options.auth).toString('base64')}` } : {};
    const tlsOptions = https
      ? {
          ...(options.ca !== undefined ? { ca: options.ca } : {}),
          ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}),
          ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {}),
          agent: false as const,
        }
      : { agent: false as const };
    const request = (https ? httpsRequest : httpRequest)(url, { headers, ...tlsOptions }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

let dir: string;
let certs: TlsCerts;
const PASSWORD = 'scrape-pass-Vq81';
let hash: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-web-'));
  certs = await generateTlsCerts(join(dir, 'certs'));
  // A real bcrypt hash, as htpasswd -B writes it ($2y$, cost 10).
  hash = bcrypt.hashSync(PASSWORD, 10).replace(/^\$2b\$/, '$2y$');
});
after(() => rm(dir, { recursive: true, force: true }));

async function webConfigFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const load = (path: string) => loadWebConfig(path, { readFile: (file) => readFileSync(file, 'utf8') });

async function serve(webYaml: string, name: string): Promise<{ server: HttpServer; base: string }> {
  const registry = new ProbeRegistry();
  new Counter({ name: 'web_test_total', help: 'A sample.', registers: [registry] }).inc();
  const web = load(await webConfigFile(name, webYaml));
  const server = await startHttpServer(
    '127.0.0.1',
    0,
    { metrics: registry, isLive: () => true, isReady: () => true, status: () => ({ targets: [] }), logger: silent },
    { web },
  );
  return { server, base: `${web.tls ? 'https' : 'http'}://127.0.0.1:${server.port}` };
}

describe('web config: TLS and basic auth on the endpoints', { timeout: 60_000 }, () => {
  it('basic auth over TLS: 401 without or with wrong credentials, 200 with the right ones; /healthz and /readyz stay open', async () => {
    const { server, base } = await serve(
      `tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\nbasic_auth_users:\n  prometheus: "${hash}"\n`,
      'tls-auth.yml',
    );
    try {
      const ca = certs.ca.certPem;
      for (const path of ['/metrics', '/']) {
        const none = await get(`${base}${path}`, { ca });
        assert.equal(none.status, 401, path);
        assert.match(String(none.headers['www-authenticate']), /^Basic realm="redis-probe"/);
        assert.equal((await get(`${base}${path}`, { ca, auth: `prometheus:${PASSWORD}x` })).status, 401, path);
        assert.equal((await get(`${base}${path}`, { ca, auth: `nobody:${PASSWORD}` })).status, 401, path);
        assert.equal((await get(`${base}${path}`, { ca, auth: 'garbage' })).status, 401, path);
      }
      const ok = await get(`${base}/metrics`, { ca, auth: `prometheus:${PASSWORD}` });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^web_test_total 1$/m);
      // The second scrape is answered from the cache of verified credentials, and answered the same.
      assert.equal((await get(`${base}/metrics`, { ca, auth: `prometheus:${PASSWORD}` })).status, 200);
      assert.equal((await get(`${base}/`, { ca, auth: `prometheus:${PASSWORD}` })).status, 200);
      assert.equal((await get(`${base}/healthz`, { ca })).status, 200);
      assert.equal((await get(`${base}/readyz`, { ca })).status, 200);
      // Plain HTTP to the TLS port gets nothing.
      await assert.rejects(get(`http://127.0.0.1:${server.port}/healthz`));
    } finally {
      await server.close();
    }
  });

  it('basic auth alone keeps plain HTTP', async () => {
    const { server, base } = await serve(`basic_auth_users:\n  prometheus: "${hash}"\n`, 'auth-only.yml');
    try {
      assert.ok(base.startsWith('http:'));
      assert.equal((await get(`${base}/metrics`)).status, 401);
      assert.equal((await get(`${base}/metrics`, { auth: `prometheus:${PASSWORD}` })).status, 200);
      assert.equal((await get(`${base}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });

  it('RequireAndVerifyClientCert: /metrics needs a client certificate from client_ca_file; a foreign one is refused at the handshake; /healthz stays open', async () => {
    const { server, base } = await serve(
      `tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: certs/ca.crt\n`,
      'mtls.yml',
    );
    try {
      const ca = certs.ca.certPem;
      assert.equal((await get(`${base}/metrics`, { ca })).status, 403);
      assert.equal((await get(`${base}/healthz`, { ca })).status, 200);
      assert.equal((await get(`${base}/readyz`, { ca })).status, 200);
      assert.equal((await get(`${base}/metrics`, { ca, cert: certs.client.certPem, key: certs.client.keyPem })).status, 200);
      await assert.rejects(get(`${base}/metrics`, { ca, cert: certs.otherCa.certPem, key: certs.otherCa.keyPem }));
    } finally {
      await server.close();
    }
  });

  it('client_allowed_sans refuses a verified certificate without a listed SAN', async () => {
    const { server, base } = await serve(
      `tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: certs/ca.crt\n  client_allowed_sans: [prometheus.monitoring.svc]\n`,
      'sans.yml',
    );
    try {
      // The test client certificate carries no SAN at all; the server certificate (signed by the same CA) has localhost.
      assert.equal((await get(`${base}/metrics`, { ca: certs.ca.certPem, cert: certs.client.certPem, key: certs.client.keyPem })).status, 403);
      assert.equal((await get(`${base}/healthz`, { ca: certs.ca.certPem })).status, 200);
    } finally {
      await server.close();
    }
  });

  it('min_version TLS13 refuses a TLS 1.2 client and serves a TLS 1.3 one', async () => {
    const { server, base } = await serve(
      `tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  min_version: TLS13\n`,
      'tls13.yml',
    );
    try {
      await assert.rejects(get(`${base}/healthz`, { ca: certs.ca.certPem, maxVersion: 'TLSv1.2' }), /version|protocol/i);
      assert.equal((await get(`${base}/healthz`, { ca: certs.ca.certPem, maxVersion: 'TLSv1.3' })).status, 200);
    } finally {
      await server.close();
    }
  });
});

describe('web config: a bad one is refused with the field and the fix', () => {
  const cases: readonly (readonly [string, string, RegExp])[] = [
    ['unknown key', 'tls_server_config:\n  cert_fil: x\n', /tls_server_config: unknown key "cert_fil"/],
    [
      'bad client_auth_type',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_auth_type: Always\n',
      /tls_server_config\.client_auth_type: must be one of NoClientCert, .*RequireAndVerifyClientCert/,
    ],
    [
      'bad min_version',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  min_version: TLS11\n',
      /tls_server_config\.min_version: must be TLS12 or TLS13/,
    ],
    ['cert without key', 'tls_server_config:\n  cert_file: certs/server.crt\n', /tls_server_config\.key_file: is required with cert_file/],
    [
      'missing cert file',
      'tls_server_config:\n  cert_file: certs/nope.crt\n  key_file: certs/server.key\n',
      /tls_server_config\.cert_file: cannot read certs\/nope\.crt \(no such file\)/,
    ],
    [
      'key of another cert',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/client.key\n',
      /tls_server_config: the certificate, key and client CA do not form a usable TLS setup/,
    ],
    [
      'not a certificate',
      'tls_server_config:\n  cert_file: certs/openssl.cnf\n  key_file: certs/server.key\n',
      /tls_server_config\.cert_file: is not a PEM certificate/,
    ],
    [
      'verify without CA',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_auth_type: RequireAndVerifyClientCert\n',
      /tls_server_config\.client_ca_file: is required with client_auth_type RequireAndVerifyClientCert/,
    ],
    [
      'CA without client auth',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_ca_file: certs/ca.crt\n',
      /client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert/,
    ],
    [
      'plain password',
      'basic_auth_users:\n  prometheus: hunter2\n',
      /basic_auth_users\["prometheus"\]: is not a bcrypt hash; generate one with `htpasswd -nBC 10/,
    ],
    [
      'unsupported cipher_suites',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n',
      /tls_server_config\.cipher_suites: is not supported by redis-probe/,
    ],
    ['bad YAML', 'basic_auth_users: [\n', /yaml: .*fix the YAML syntax/],
  ];
  for (const [name, yaml, expected] of cases) {
    it(name, async () => {
      const path = await webConfigFile(`bad-${name.replaceAll(' ', '-')}.yml`, yaml);
      assert.throws(
        () => load(path),
        (error: unknown) => {
          assert.ok(error instanceof WebConfigError);
          assert.match(error.message, expected);
          // A pasted password must never be echoed.
          assert.ok(!error.message.includes('hunter2'));
          return true;
        },
      );
    });
  }
  it('a missing file names the flag and the config key', () => {
    assert.throws(() => load(join(dir, 'absent.yml')), /cannot read the file \(no such file\); check --web\.config\.file or server\.webConfigFile/);
  });
});

describe('the daemon with a web config', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  const configWith = async (name: string, httpPort: number, extra = ''): Promise<string> =>
    webConfigFile(
      name,
      `server: { host: 127.0.0.1, port: ${httpPort}${extra} }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
targets:
  - { name: up, host: 127.0.0.1, port: ${redis.port} }
`,
    );

  it('validate and run refuse a bad web config with exit 2, naming the field; run never listens', async () => {
    const httpPort = await freePort();
    const config = await configWith('daemon-bad.yaml', httpPort);
    const bad = await webConfigFile(
      'daemon-bad-web.yml',
      'tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n  client_auth_type: Sometimes\n',
    );
    for (const command of ['validate', 'run']) {
      const run = await runCli([command, '--config', config, '--web.config.file', bad]);
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      assert.match(run.stderr, /invalid web config .*daemon-bad-web\.yml:\n {2}- tls_server_config\.client_auth_type: must be one of/);
      assert.equal(run.stdout, '');
    }
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/healthz`));
    // The config key, relative to the config file, is read the same way.
    const viaKey = await runCli(['validate', '--config', await configWith('daemon-key.yaml', httpPort, ', webConfigFile: daemon-bad-web.yml')]);
    assert.equal(viaKey.code, 2);
    assert.match(viaKey.stderr, /client_auth_type: must be one of/);
  });

  it('run with --web.config.file serves /metrics over TLS to the right credentials only', async () => {
    const httpPort = await freePort();
    const config = await configWith('daemon-good.yaml', httpPort);
    const web = await webConfigFile(
      'daemon-web.yml',
      `tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\nbasic_auth_users:\n  prometheus: "${hash}"\n`,
    );
    const validate = await runCli(['validate', '--config', config, '--web.config.file', web]);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /http: 127\.0\.0\.1:\d+, TLS \(min TLSv1\.2, client certificates: NoClientCert\), basic auth \(1 user\) on \/metrics and \//);
    const daemon = spawnCli(['run', '--config', config, '--web.config.file', web]);
    const exited = collect(daemon, 60_000);
    try {
      const base = `https://127.0.0.1:${httpPort}`;
      const ca = certs.ca.certPem;
      await waitFor(async () => (await get(`${base}/readyz`, { ca })).status === 200, { timeoutMs: 15_000, message: 'ready over TLS' });
      assert.equal((await get(`${base}/metrics`, { ca })).status, 401);
      await waitFor(async () => (await get(`${base}/metrics`, { ca, auth: `prometheus:${PASSWORD}` })).body.includes('redis_probe_success{target="up"} 1'), {
        timeoutMs: 15_000,
        message: 'a successful cycle scraped with credentials',
      });
    } finally {
      daemon.kill('SIGTERM');
    }
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(PASSWORD));
  });
});
