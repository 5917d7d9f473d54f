import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { TlsCerts } from '../support/tls-certs.ts';
import { freePort } from '../support/free-port.ts';
import { runCli } from '../support/cli-process.ts';
import { assertFailedAt, assertNoSecrets, runDoctorJson } from './support.ts';

// Real servers for every layer doctor explains: plain, TLS (good, expired, wrong-host certificates), an ACL
// user, a least-privilege user without @dangerous, a password-protected default user, a replica, a full cache.
const KEY = 'doctor-access-key-Zq81';
const LEAST_KEY = 'doctor-least-key-Hv27';
const WRONG_KEY = 'doctor-wrong-key-Pp03';
const REQUIRED_PASS = 'doctor-requirepass-Lm55';
const SECRETS = [KEY, LEAST_KEY, WRONG_KEY, REQUIRED_PASS];
const ENV = { KEY, LEAST_KEY, WRONG_KEY };

let dir: string;
let certs: TlsCerts;
let plain: RedisServer;
let tls: RedisServer;
let expired: RedisServer;
let wrongHost: RedisServer;
let protectedServer: RedisServer;
let replica: RedisServer;
let full: RedisServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-doctor-'));
  certs = await generateTlsCerts(join(dir, 'certs'));
  const users = [
    { name: 'probe', password: KEY, rules: '+@all ~* &*' },
    { name: 'least', password: LEAST_KEY, rules: '+@all -@dangerous ~* &*' },
  ];
  [plain, tls, expired, wrongHost, protectedServer, full] = await Promise.all([
    startRedis({ aclUsers: users }),
    startRedis({ tls: certs, aclUsers: users }),
    startRedis({ tls: certs, tlsServerCert: 'expiredServer' }),
    startRedis({ tls: certs, tlsServerCert: 'wrongHostServer' }),
    startRedis({ password: REQUIRED_PASS }),
    startRedis({ maxmemory: '1' }),
  ]);
  replica = await startRedis({ replicaOf: { host: plain.host, port: plain.port } });
});

after(async () => {
  await Promise.all([plain, tls, expired, wrongHost, protectedServer, replica, full].map((server) => server?.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const plainArgs = (server: RedisServer) => ['--host', '127.0.0.1', '--port', String(server.port), '--no-tls'];
const tlsArgs = (server: RedisServer, ca = certs.ca.certPath) => ['--host', 'localhost', '--port', String(server.port), '--ca', ca];

describe('redis-probe doctor (built CLI, real servers)', { timeout: 180_000 }, () => {
  it('passes every layer of a plain server with an ACL user, and names the user', async () => {
    const run = await runDoctorJson([...plainArgs(plain), '--user', 'probe', '--password-env', 'KEY'], SECRETS, ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.targets[0]?.ok, true);
    assert.equal(run.targets[0]?.failed_layer, null);
    assert.deepEqual(
      run.targets[0]?.layers.map((layer) => [layer.layer, layer.status]),
      [
        ['dns', 'ok'],
        ['tcp', 'ok'],
        ['tls', 'skipped'],
        ['auth', 'ok'],
        ['ping', 'ok'],
        ['set', 'ok'],
        ['get', 'ok'],
        ['client_list', 'ok'],
      ],
    );
    assert.match(run.layer('dns').detail, /127\.0\.0\.1 is an IP address \(loopback\)/);
    assert.match(run.layer('auth').detail, /user probe/);
    assert.match(run.layer('ping').detail, /redis \d+\.\d+/);
    assert.match(run.layer('client_list').detail, /\d+ clients connected/);
  });

  it('passes over TLS with the generated CA, reporting the version and the certificate', async () => {
    const run = await runDoctorJson([...tlsArgs(tls), '--user', 'probe', '--password-env', 'KEY'], SECRETS, ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.layer('tls').status, 'ok');
    assert.match(run.layer('tls').detail, /TLSv1\.[23], certificate CN=localhost issued by CN=redis-probe test CA, expires \d{4}-\d\d-\d\d/);
    assert.match(run.layer('dns').detail, /localhost → .*loopback/);
  });

  it('counts CLIENT LIST refused to a least-privilege user (no @dangerous) as passed, and says what it lacks', async () => {
    const run = await runDoctorJson([...plainArgs(plain), '--user', 'least', '--password-env', 'LEAST_KEY'], SECRETS, ENV);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.targets[0]?.ok, true);
    const clientList = run.layer('client_list');
    assert.equal(clientList.status, 'unsupported');
    assert.match(clientList.hint ?? '', /@dangerous/);
    assert.match(clientList.hint ?? '', /Data Owner, or a custom policy with \+client\|list/);
  });

  it('fails auth on a wrong key and says the key may have been regenerated', async () => {
    const run = await runDoctorJson([...plainArgs(plain), '--user', 'probe', '--password-env', 'WRONG_KEY'], SECRETS, ENV);
    const auth = assertFailedAt(run, 'auth');
    assert.match(auth.detail, /WRONGPASS/);
    assert.match(auth.hint ?? '', /refused the password for the user "probe"/);
    assert.match(auth.hint ?? '', /regenerated: copy the current primary or secondary key/);
  });

  it('says a credential is needed when the server requires one (NOAUTH)', async () => {
    const run = await runDoctorJson(plainArgs(protectedServer), SECRETS, ENV);
    const failed = assertFailedAt(run, 'ping');
    assert.match(failed.detail, /NOAUTH/);
    assert.match(failed.hint ?? '', /requires authentication and no credential is configured/);
  });

  it('fails tcp on a closed port and names the Azure ports', async () => {
    const closed = await freePort();
    const run = await runDoctorJson(['--host', '127.0.0.1', '--port', String(closed)], SECRETS);
    const tcp = assertFailedAt(run, 'tcp');
    assert.match(tcp.detail, /ECONNREFUSED/);
    assert.match(tcp.hint ?? '', /Nothing accepts connections on 127\.0\.0\.1:\d+/);
    assert.match(tcp.hint ?? '', /6380 for TLS on Azure Cache for Redis, 10000 on Azure Managed Redis/);
  });

  it('fails dns on a name that does not resolve and points at the private DNS zone', async () => {
    const run = await runDoctorJson(['--host', 'nothing.invalid'], SECRETS);
    const dns = assertFailedAt(run, 'dns');
    assert.match(dns.hint ?? '', /nothing\.invalid does not resolve/);
    assert.match(dns.hint ?? '', /private DNS zone/);
  });

  it('fails tls when TLS is spoken to a plain port, and says the port speaks plain text', async () => {
    const run = await runDoctorJson(['--host', 'localhost', '--port', String(plain.port), '--timeout', '1s'], SECRETS);
    const layer = assertFailedAt(run, 'tls');
    assert.equal(run.layer('tcp').status, 'ok');
    assert.match(layer.hint ?? '', /plain text/);
    assert.match(layer.hint ?? '', /--no-tls/);
  });

  it('fails tls when plain text is sent to a TLS port, and says the port expects TLS', async () => {
    const run = await runDoctorJson(plainArgs(tls), SECRETS);
    const layer = assertFailedAt(run, 'tls');
    assert.equal(run.layer('tcp').status, 'ok');
    assert.match(layer.hint ?? '', /Plain text was sent to a port that expects TLS/);
  });

  it('fails tls on an untrusted CA and points at tls.ca', async () => {
    const run = await runDoctorJson(tlsArgs(tls, certs.otherCa.certPath), SECRETS);
    const layer = assertFailedAt(run, 'tls');
    assert.match(layer.hint ?? '', /certificate is not trusted/);
    assert.match(layer.hint ?? '', /tls\.ca \(--ca\)/);
  });

  it('fails tls on an expired certificate', async () => {
    const run = await runDoctorJson(tlsArgs(expired), SECRETS);
    assert.match(assertFailedAt(run, 'tls').hint ?? '', /certificate has expired/);
  });

  it('fails tls on a certificate for another name and points at tls.servername', async () => {
    const run = await runDoctorJson(tlsArgs(wrongHost), SECRETS);
    const layer = assertFailedAt(run, 'tls');
    assert.match(layer.hint ?? '', /does not match the name localhost/);
    assert.match(layer.hint ?? '', /tls\.servername \(--servername\)/);
  });

  it('fails set on a read-only replica and on a full cache, each named', async () => {
    const readonly = await runDoctorJson(plainArgs(replica), SECRETS);
    assert.match(assertFailedAt(readonly, 'set').hint ?? '', /read-only replica/);
    const oom = await runDoctorJson(plainArgs(full), SECRETS);
    assert.match(assertFailedAt(oom, 'set').hint ?? '', /out of memory/);
  });

  it('walks every target of a config file in text, and exits 2 for an unknown --target', async () => {
    const configPath = join(dir, 'doctor.yaml');
    await writeFile(
      configPath,
      `credentials:
  - { name: key, type: access-key, username: probe, passwordEnv: KEY }
targets:
  - { name: good, host: 127.0.0.1, port: ${plain.port}, tls: { enabled: false }, credential: key }
  - { name: tls-good, host: localhost, port: ${tls.port}, tls: { ca: ${certs.ca.certPath} }, credential: key }
`,
    );
    const text = await runCli(['doctor', '--config', configPath], { env: ENV });
    assertNoSecrets(text, SECRETS);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^target good \(127\.0\.0\.1:\d+, TLS off, credential key \(access-key\)\)$/m);
    assert.match(text.stdout, /^target tls-good \(localhost:\d+, TLS on, credential key \(access-key\)\)$/m);
    assert.match(text.stdout, /^ {2}tls {9}ok {2}/m);
    assert.equal(text.stdout.match(/=> every layer passed/g)?.length, 2);

    const one = await runDoctorJson(['--config', configPath, '--target', 'tls-good'], SECRETS, ENV);
    assert.equal(one.code, 0);
    assert.deepEqual(
      one.targets.map((target) => target.target),
      ['tls-good'],
    );

    const unknown = await runCli(['doctor', '--config', configPath, '--target', 'nope'], { env: ENV });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no target named "nope" \(known: good, tls-good\)/);
  });

  it('exits 2 for usage and config errors, naming the flag', async () => {
    const both = await runCli(['doctor', '--host', 'h', '--password-env', 'A', '--password-file', 'B']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--password-env and --password-file: give one of them/);
    const port = await runCli(['doctor', '--host', 'h', '--port', 'abc']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /--port: must be a number 1-65535/);
    const unset = await runCli(['doctor', '--host', 'h', '--user', 'u', '--password-env', 'DOCTOR_UNSET_VAR']);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /--password-env: environment variable DOCTOR_UNSET_VAR is not set/);
    const nothing = await runCli(['doctor'], { env: { REDIS_PROBE_CONFIG: '' } });
    assert.equal(nothing.code, 2);
  });
});
