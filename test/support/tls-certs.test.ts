import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateTlsCerts } from './tls-certs.ts';
import type { TlsCerts } from './tls-certs.ts';

const DAY_MS = 86_400_000;
let dir: string;
let certs: TlsCerts;

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-certs-'));
    certs = await generateTlsCerts(dir, { extraSans: ['DNS:redis.test', 'IP:::1'], serverDays: 10 });
  },
  { timeout: 10_000 },
);

after(
  async () => {
    await rm(dir, { recursive: true, force: true });
  },
  { timeout: 5000 },
);

test('every file exists and PEM text matches the path', { timeout: 5000 }, () => {
  for (const pair of [certs.ca, certs.otherCa, certs.server, certs.expiredServer, certs.wrongHostServer, certs.client]) {
    assert.ok(existsSync(pair.certPath) && existsSync(pair.keyPath), pair.certPath);
    assert.match(pair.certPem, /^-----BEGIN CERTIFICATE-----/);
    assert.match(pair.keyPem, /-----BEGIN PRIVATE KEY-----/);
  }
});

test('server cert is signed by the CA, names localhost/127.0.0.1 and the extra SANs', { timeout: 5000 }, () => {
  const ca = new X509Certificate(certs.ca.certPem);
  const server = new X509Certificate(certs.server.certPem);
  assert.ok(ca.ca, 'CA cert is a CA');
  assert.equal(server.ca, false);
  assert.ok(server.verify(ca.publicKey));
  assert.equal(server.checkHost('localhost'), 'localhost');
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(server.checkHost('redis.test'), 'redis.test');
  assert.equal(server.checkIP('::1'), '::1');
  assert.equal(server.publicKey.asymmetricKeyType, 'ec');
  assert.ok(Math.abs(certs.serverNotAfterMs - (Date.now() + 10 * DAY_MS)) < 60_000, 'notAfter is serverDays away');
  assert.equal(certs.serverNotAfterMs, server.validToDate.getTime());
});

test('expired cert is CA-signed with the right SANs but long expired', { timeout: 5000 }, () => {
  const ca = new X509Certificate(certs.ca.certPem);
  const expired = new X509Certificate(certs.expiredServer.certPem);
  assert.ok(expired.verify(ca.publicKey));
  assert.equal(expired.checkHost('localhost'), 'localhost');
  assert.equal(expired.validToDate.toISOString(), '2020-01-02T00:00:00.000Z');
  assert.equal(certs.expiredServerNotAfterMs, Date.parse('2020-01-02T00:00:00Z'));
});

test('wrong-host cert names only wrong.example', { timeout: 5000 }, () => {
  const wrong = new X509Certificate(certs.wrongHostServer.certPem);
  assert.ok(wrong.verify(new X509Certificate(certs.ca.certPem).publicKey));
  assert.equal(wrong.subjectAltName, 'DNS:wrong.example');
  assert.equal(wrong.checkHost('localhost'), undefined);
  assert.equal(wrong.checkIP('127.0.0.1'), undefined);
});

test('the other CA signed nothing; the client cert is for client auth', { timeout: 5000 }, () => {
  const otherCa = new X509Certificate(certs.otherCa.certPem);
  assert.ok(otherCa.ca);
  assert.equal(new X509Certificate(certs.server.certPem).verify(otherCa.publicKey), false);
  const client = new X509Certificate(certs.client.certPem);
  assert.ok(client.verify(new X509Certificate(certs.ca.certPem).publicKey));
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
});
