import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { TargetConfig } from '../../src/config/types.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { TlsCerts } from '../support/tls-certs.ts';
import { waitFor } from '../support/wait.ts';
import {
  activeResources,
  adminConnection,
  assertHealthyNeighbours,
  assertResourcesReturned,
  CYCLE_MS,
  cycleEntries,
  exerciseFault,
  failuresOf,
  faultConfig,
  faultTarget,
  formatRows,
  HEALTHY_TARGETS,
  killProbeConnection,
  SLACK_MS,
  startDaemon,
  successOf,
  watchProcessFaults,
} from './support.ts';
import type { DaemonHarness, FaultRow } from './support.ts';

// TLS faults: the server swaps in an expired certificate, one for another host name, or one from a CA the probe
// does not trust (CONFIG SET tls-cert-file, then CLIENT KILL so the probe handshakes again), and swaps back.
// Plus two faults that live in the config: a host name that does not resolve, and a CA that signed nothing.
const TIMEOUT_MS = 400;
const CERT_FAULTS = ['expired', 'wronghost', 'untrusted'] as const;
type CertFault = (typeof CERT_FAULTS)[number];

const processFaults = watchProcessFaults();
const servers = new Map<string, RedisServer>();
const admins = new Map<string, Redis>();
const rows: FaultRow[] = [];
let certs: TlsCerts;
let untrusted: { certPath: string; keyPath: string };
let harness: DaemonHarness;
let baseline: Map<string, number>;
let startedAtMs: number;

const execFileAsync = promisify(execFile);

/** A server certificate for localhost signed by the CA the probe does not trust. */
async function untrustedLeaf(dir: string): Promise<{ certPath: string; keyPath: string }> {
  await execFileAsync(
    'openssl',
    [
      'req',
      '-x509',
      '-config',
      'openssl.cnf',
      '-extensions',
      'server_ext',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'untrusted.key',
      '-out',
      'untrusted.crt',
      '-subj',
      '/CN=localhost',
      '-days',
      '30',
      '-CA',
      'other-ca.crt',
      '-CAkey',
      'other-ca.key',
    ],
    { cwd: dir, timeout: 10_000 },
  );
  return { certPath: join(dir, 'untrusted.crt'), keyPath: join(dir, 'untrusted.key') };
}

const tlsTarget = (name: string, port: number, ca: string): TargetConfig =>
  faultTarget(name, port, { timeoutMs: TIMEOUT_MS, tls: { enabled: true, verify: true, ca, servername: 'localhost' } });

before(async () => {
  certs = await generateTlsCerts(await mkdtemp(join(tmpdir(), 'redis-probe-faults-tls-')));
  untrusted = await untrustedLeaf(certs.dir);
  for (const name of ['healthy', ...CERT_FAULTS]) servers.set(name, await startRedis({ tls: certs }));
  for (const name of CERT_FAULTS) admins.set(name, await adminConnection(servers.get(name)!.clientOptions()));
  baseline = activeResources();
  const healthy = servers.get('healthy')!;
  harness = await startDaemon(
    faultConfig([
      ...HEALTHY_TARGETS.map((name) => tlsTarget(name, healthy.port, certs.ca.certPem)),
      ...CERT_FAULTS.map((name) => tlsTarget(`tls-${name}`, servers.get(name)!.port, certs.ca.certPem)),
      // Trusts only a CA that signed nothing here.
      tlsTarget('tls-wrong-ca-config', healthy.port, certs.otherCa.certPem),
      faultTarget('dns-invalid', 6379, { host: 'redis-probe-fault.invalid', timeoutMs: TIMEOUT_MS }),
    ]),
  );
  startedAtMs = performance.now();
});

after(async () => {
  await harness?.stop();
  for (const client of admins.values()) client.disconnect();
  await Promise.all([...servers.values()].map((server) => server.stop()));
  if (certs) await rm(certs.dir, { recursive: true, force: true });
  processFaults.dispose();
});

function swapCertificate(fault: CertFault, pair: { certPath: string; keyPath: string }) {
  return async () => {
    const admin = admins.get(fault)!;
    await admin.call('CONFIG', 'SET', 'tls-cert-file', pair.certPath, 'tls-key-file', pair.keyPath);
  };
}

/** Swaps the bad certificate in and makes the probe handshake again (an open TLS session outlives the swap). */
function presentBadCertificate(fault: CertFault, pair: { certPath: string; keyPath: string }) {
  return async () => {
    await swapCertificate(fault, pair)();
    await killProbeConnection(admins.get(fault)!, `tls-${fault}`);
  };
}

describe('TLS and DNS faults are reported at connect with reason tls / dns', { timeout: 120_000 }, () => {
  it('an expired server certificate: connect/tls; a valid one heals', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'expired server certificate',
        target: 'tls-expired',
        step: 'connect',
        reason: 'tls',
        timeoutMs: TIMEOUT_MS,
        inject: presentBadCertificate('expired', certs.expiredServer),
        remove: swapCertificate('expired', certs.server),
      }),
    );
  });

  it('a certificate for another host name: connect/tls', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'certificate for wrong.example',
        target: 'tls-wronghost',
        step: 'connect',
        reason: 'tls',
        timeoutMs: TIMEOUT_MS,
        inject: presentBadCertificate('wronghost', certs.wrongHostServer),
        remove: swapCertificate('wronghost', certs.server),
      }),
    );
  });

  it('a certificate from a CA the probe does not trust: connect/tls', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'certificate from an untrusted CA',
        target: 'tls-untrusted',
        step: 'connect',
        reason: 'tls',
        timeoutMs: TIMEOUT_MS,
        inject: presentBadCertificate('untrusted', untrusted),
        remove: swapCertificate('untrusted', certs.server),
      }),
    );
  });

  for (const [target, reason, fault] of [
    ['tls-wrong-ca-config', 'tls', 'tls.ca set to an unrelated CA'],
    ['dns-invalid', 'dns', 'host redis-probe-fault.invalid'],
  ] as const) {
    it(`${fault}: connect/${reason} on every cycle`, async () => {
      const fromMs = performance.now();
      await waitFor(() => cycleEntries(harness.logger.entries, target, fromMs).length >= 2, {
        timeoutMs: 2 * CYCLE_MS + TIMEOUT_MS + SLACK_MS,
        message: `two cycles of ${target}`,
      });
      const cycles = cycleEntries(harness.logger.entries, target);
      assert.ok(cycles.length >= 2);
      for (const cycle of cycles) assert.deepEqual([cycle.ok, cycle.step, cycle.reason], [false, 'connect', reason], cycle.error);
      const text = await harness.scrape();
      assert.equal(successOf(text, target), 0);
      assert.equal(failuresOf(text, target, 'connect', reason), cycles.length);
      const first = cycles[0]!;
      rows.push({ fault, target, observed: `connect/${reason}`, detectedMs: first.atMs - startedAtMs, recoveredMs: undefined });
    });
  }

  it('kept the healthy neighbours fast and green, crashed nothing, and left no handles behind', async (t) => {
    const endedAtMs = performance.now();
    t.diagnostic(assertHealthyNeighbours(harness.logger, startedAtMs, endedAtMs));
    for (const line of formatRows(rows)) t.diagnostic(line);
    assert.equal(rows.length, 5);
    await harness.stop();
    t.diagnostic(await assertResourcesReturned(baseline));
    processFaults.assertNone();
  });
});
