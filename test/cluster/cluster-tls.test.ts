import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { systemClock } from '../../src/shared/clock.ts';
import type { TargetConfig } from '../../src/config/types.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { createTargetRunner } from '../../src/daemon/target-runner.ts';
import type { TargetRunner } from '../../src/probe/probe.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import type { RedisCluster } from '../support/redis-cluster.ts';
import { targetConfig } from '../support/target-config.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { CertKeyPair, TlsCerts } from '../support/tls-certs.ts';

const execFileAsync = promisify(execFile);
let dir: string;
let certs: TlsCerts;
let cluster: RedisCluster;
const runners: TargetRunner[] = [];

/** A server cert signed by the test CA whose only SAN is DNS:localhost: an IP is not a valid name for it. */
async function dnsOnlyServerCert(certDir: string): Promise<CertKeyPair> {
  await execFileAsync(
    'openssl',
    [
      'req',
      '-x509',
      '-config',
      'openssl.cnf',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'dns-only.key',
      '-out',
      'dns-only.crt',
      '-subj',
      '/CN=localhost',
      '-days',
      '2',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature',
    ],
    { cwd: certDir, timeout: 10_000 },
  );
  const certPath = join(certDir, 'dns-only.crt');
  const keyPath = join(certDir, 'dns-only.key');
  return { certPath, keyPath, certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
}

function runnerFor(target: TargetConfig, seen?: ConnectionOptions[]): TargetRunner {
  const runner = createTargetRunner(target, {
    clock: systemClock,
    instanceId: 'test',
    randomValue: () => 'value',
    redactor: createSecretRedactor(),
    ...(seen ? { createConnection: (options: ConnectionOptions) => (seen.push(options), new Redis(options)) } : {}),
  });
  runners.push(runner);
  return runner;
}

function tlsTarget(name: string, host: string, ca: string): TargetConfig {
  return targetConfig({
    name,
    host,
    port: cluster.primaries()[0]!.port,
    timeoutMs: 2000,
    tls: { enabled: true, verify: true, ca },
    cluster: { natMap: {}, refreshMs: 60_000 },
  });
}

const describeResults = (results: readonly CycleResult[]): string =>
  results
    .map((result) => `${result.node ?? '(no node)'} ${result.success ? 'ok' : `${result.failure?.step}/${result.failure?.reason}: ${result.failure?.message}`}`)
    .join('; ');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-cluster-tls-'));
  const generated = await generateTlsCerts(dir);
  certs = { ...generated, server: await dnsOnlyServerCert(dir) };
  cluster = await startRedisCluster({ tls: certs });
});
after(async () => {
  await Promise.all(runners.map((runner) => runner.close()));
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a TLS cluster announcing IP addresses', { timeout: 40_000 }, () => {
  it('the nodes present a certificate valid for localhost only', () => {
    assert.equal(new X509Certificate(certs.server.certPem).subjectAltName, 'DNS:localhost');
  });

  it('verifies every node against the configured host name, though nodes are announced as 127.0.0.1', async () => {
    const seen: ConnectionOptions[] = [];
    const results = await runnerFor(tlsTarget('tls-ok', 'localhost', certs.ca.certPem), seen).run('schedule');
    assert.equal(results.length, 3, describeResults(results));
    assert.ok(
      results.every((result) => result.success && result.node?.startsWith('127.0.0.1:')),
      describeResults(results),
    );
    assert.ok(results.every((result) => result.observations.serverCertNotAfterMs === new X509Certificate(certs.server.certPem).validToDate.getTime()));
    const nodeConnections = seen.filter((options) => options.host === '127.0.0.1');
    assert.equal(nodeConnections.length, 3);
    for (const options of nodeConnections) {
      assert.equal(options.tls?.servername, 'localhost');
      assert.equal(options.tls?.rejectUnauthorized, true, 'verification stays on');
    }
  });

  it('fails with reason tls where the name really does not match: the same cluster reached by IP', async () => {
    const results = await runnerFor(tlsTarget('tls-by-ip', '127.0.0.1', certs.ca.certPem)).run('schedule');
    assert.equal(results.length, 1);
    assert.equal(results[0]?.failure?.reason, 'tls', describeResults(results));
    assert.equal(results[0]?.failure?.step, 'connect');
    assert.match(results[0]?.failure?.message ?? '', /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
  });

  it('fails with reason tls when the CA is not the one that signed the nodes', async () => {
    const results = await runnerFor(tlsTarget('tls-wrong-ca', 'localhost', certs.otherCa.certPem)).run('schedule');
    assert.deepEqual(
      results.map((result) => [result.node, result.failure?.step, result.failure?.reason]),
      [[undefined, 'connect', 'tls']],
      describeResults(results),
    );
  });
});
