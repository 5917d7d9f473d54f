import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { captureRedisError, RedisStartError, startRedis } from './redis-server.ts';
import type { RedisServer } from './redis-server.ts';
import { generateTlsCerts } from './tls-certs.ts';
import type { TlsCerts } from './tls-certs.ts';
import { waitFor } from './wait.ts';

let certDir: string;
let certs: TlsCerts;

before(
  async () => {
    certDir = await mkdtemp(join(tmpdir(), 'redis-probe-certs-'));
    certs = await generateTlsCerts(certDir);
  },
  { timeout: 10_000 },
);

after(() => rm(certDir, { recursive: true, force: true }), { timeout: 5000 });

/** Runs `fn` with a server that is always stopped, even when an assertion fails. */
async function withRedis(options: Parameters<typeof startRedis>[0], fn: (server: RedisServer) => Promise<void>): Promise<void> {
  const server = await startRedis(options);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** A client that fails fast instead of retrying, closed by the caller. */
function client(options: ConnectionOptions): Redis {
  const redis = new Redis({
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100,
    ...options,
  });
  redis.on('error', () => undefined);
  return redis;
}

async function ping(options: ConnectionOptions): Promise<unknown> {
  const redis = client(options);
  try {
    await redis.connect();
    return await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/** True while `pid` is a live (non-zombie) process: a container's PID 1 may never reap orphans. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('plain server answers PING, keeps data, and stop() frees the port and data dir', { timeout: 15_000 }, async () => {
  const server = await startRedis();
  try {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(isAlive(server.pid));
    assert.ok(existsSync(server.dataDir));
    assert.equal(await ping(server.clientOptions()), 'PONG');
    assert.equal(await server.cli('SET', 'greeting', 'hello'), 'OK');
    assert.equal(await server.cli('GET', 'greeting'), 'hello');
    assert.equal(await server.cli('GET', 'missing'), '');
    assert.equal(await server.cli('RPUSH', 'list', 'a', 'b'), '2');
    assert.equal(await server.cli('LRANGE', 'list', 0, -1), 'a\nb');
    assert.match(await server.cli('CONFIG', 'GET', 'bind'), /^bind\n127\.0\.0\.1$/);
    assert.match(readFileSync(server.logPath, 'utf8'), /Ready to accept connections/);
  } finally {
    await server.stop();
  }
  const { pid } = server;
  assert.equal(isAlive(pid), false);
  assert.equal(existsSync(server.dataDir), false);
  const refused = await captureRedisError({ host: server.host, port: server.port });
  assert.equal(refused.error.code, 'ECONNREFUSED');
  assert.equal(refused.rejection.message, 'Connection is closed.');
  await server.stop();
});

test('requirepass and ACL users: AUTH works, NOAUTH/WRONGPASS/NOPERM as expected', { timeout: 15_000 }, async () => {
  const aclUsers = [{ name: 'probe', password: 'probe-secret', rules: '+@all -client ~* &*' }];
  await withRedis({ password: 'admin-secret', aclUsers }, async (server) => {
    const base = { host: server.host, port: server.port };
    assert.equal(await ping(server.clientOptions()), 'PONG');
    assert.match((await captureRedisError(base)).error.message, /^NOAUTH /);
    const wrong = await captureRedisError({ ...base, password: 'nope' });
    assert.equal(wrong.error.name, 'ReplyError');
    assert.match(wrong.error.message, /^WRONGPASS invalid username-password pair/);

    const probe = client({ ...base, username: 'probe', password: 'probe-secret' });
    try {
      await probe.connect();
      assert.equal(await probe.set('k', 'v'), 'OK');
      assert.equal(await probe.get('k'), 'v');
      await assert.rejects(probe.client('LIST'), (err: Error) => {
        assert.equal(err.name, 'ReplyError');
        assert.equal(err.message, "NOPERM this user has no permissions to run the 'client|list' command");
        return true;
      });
    } finally {
      probe.disconnect();
    }
    // The admin connection (default user) still may.
    assert.match(await server.cli('CLIENT', 'LIST'), /addr=127\.0\.0\.1:/);
  });
});

test('TLS: the test CA verifies; wrong CA, expired cert and wrong hostname fail with their codes', { timeout: 20_000 }, async () => {
  const servers = await Promise.all([
    startRedis({ tls: certs }),
    startRedis({ tls: certs, tlsServerCert: 'expiredServer' }),
    startRedis({ tls: certs, tlsServerCert: 'wrongHostServer' }),
  ]);
  try {
    const [good, expired, wrongHost] = servers;
    const tls = { ca: certs.ca.certPem, servername: 'localhost' };
    assert.equal(await ping({ host: good.host, port: good.port, tls }), 'PONG');
    assert.equal(await ping(good.clientOptions()), 'PONG');
    assert.equal(await good.cli('CONFIG', 'GET', 'port'), 'port\n0');

    // Redis sends the CA along with the leaf (OpenSSL auto-chains from tls-ca-cert-file),
    // so an untrusted CA shows up as a self-signed cert in the chain.
    const wrongCa = await captureRedisError({ host: good.host, port: good.port, tls: { ...tls, ca: certs.otherCa.certPem } });
    assert.equal(wrongCa.error.code, 'SELF_SIGNED_CERT_IN_CHAIN');
    assert.equal(wrongCa.rejection.message, 'Connection is closed.');

    const expiredError = await captureRedisError({ host: expired.host, port: expired.port, tls });
    assert.equal(expiredError.error.code, 'CERT_HAS_EXPIRED');
    assert.equal(expiredError.error.message, 'certificate has expired');

    const altName = await captureRedisError({ host: wrongHost.host, port: wrongHost.port, tls });
    assert.equal(altName.error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(altName.error.message, /Hostname\/IP does not match certificate's altnames/);

    // Plaintext RESP to a TLS port: redis drops the connection.
    const plaintext = await captureRedisError({ host: good.host, port: good.port });
    assert.equal(plaintext.error.code, 'ECONNRESET');

    // The admin helpers still reach servers with deliberately bad certs; clientOptions() verifies.
    assert.equal(await expired.cli('PING'), 'PONG');
    assert.equal(await wrongHost.cli('PING'), 'PONG');
    assert.equal((await captureRedisError(expired.clientOptions())).error.code, 'CERT_HAS_EXPIRED');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});

test('TLS with client auth: no client cert is refused, the test client cert is accepted', { timeout: 15_000 }, async () => {
  await withRedis({ tls: certs, tlsAuthClients: 'yes', password: 'pw' }, async (server) => {
    const base = { host: server.host, port: server.port, password: 'pw' };
    const noCert = await captureRedisError({ ...base, tls: { ca: certs.ca.certPem, servername: 'localhost' } });
    // Races between the TLS 1.3 alert and the RST that follows it: either code may win.
    assert.ok(
      ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ECONNRESET'].includes(String(noCert.error.code)),
      `got ${String(noCert.error.code)}: ${noCert.error.message}`,
    );
    assert.equal(await ping(server.clientOptions()), 'PONG');
    assert.equal(await server.cli('PING'), 'PONG');
  });
});

test('pause() makes commands time out, resume() brings answers back', { timeout: 15_000 }, async () => {
  await withRedis({}, async (server) => {
    const redis = client({ ...server.clientOptions(), commandTimeout: 300 });
    try {
      await redis.connect();
      assert.equal(await redis.ping(), 'PONG');
      server.pause();
      await assert.rejects(redis.ping(), /Command timed out/);
      server.resume();
      assert.equal(await redis.ping(), 'PONG');
      // stop() must work on a paused server too (SIGTERM alone would stay pending).
      server.pause();
    } finally {
      redis.disconnect();
    }
  });
});

test('restart() and kill() keep the port; data is gone after restart (no persistence)', { timeout: 15_000 }, async () => {
  await withRedis({ password: 'pw' }, async (server) => {
    const { port } = server;
    const firstPid = server.pid;
    await server.cli('SET', 'k', 'v');
    await server.restart();
    assert.equal(server.port, port);
    assert.notEqual(server.pid, firstPid);
    assert.equal(isAlive(firstPid), false);
    assert.equal(await server.cli('GET', 'k'), '');
    assert.equal(await server.cli('CONFIG', 'GET', 'requirepass'), 'requirepass\npw');

    const crashedPid = server.pid;
    await server.kill();
    assert.equal(isAlive(crashedPid), false);
    assert.equal((await captureRedisError(server.clientOptions())).error.code, 'ECONNREFUSED');
    await server.restart();
    assert.equal(server.port, port);
    assert.equal(await ping(server.clientOptions()), 'PONG');
  });
});

test('a new server can take over a stopped server port', { timeout: 15_000 }, async () => {
  const first = await startRedis();
  const { port } = first;
  await first.stop();
  await withRedis({ port }, async (second) => {
    assert.equal(second.port, port);
    assert.equal(await second.cli('PING'), 'PONG');
  });
});

test('a replica answers READONLY on SET and follows its primary', { timeout: 15_000 }, async () => {
  await withRedis({ password: 'pw' }, async (primary) => {
    await withRedis({ password: 'pw', replicaOf: { host: primary.host, port: primary.port } }, async (replica) => {
      await waitFor(async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'), {
        timeoutMs: 5000,
        message: 'replica link up',
      });
      const readonly = await captureRedisError(replica.clientOptions(), ['SET', 'k', 'v']);
      assert.equal(readonly.error.name, 'ReplyError');
      assert.equal(readonly.error.message, "READONLY You can't write against a read only replica.");
      await primary.cli('SET', 'k', 'from-primary');
      await waitFor(async () => (await replica.cli('GET', 'k')) === 'from-primary', {
        timeoutMs: 5000,
        message: 'the write to reach the replica',
      });
    });
  });
});

test('maxmemory with noeviction gives OOM on writes', { timeout: 15_000 }, async () => {
  await withRedis({ maxmemory: '1mb' }, async (server) => {
    assert.equal(await server.cli('CONFIG', 'GET', 'maxmemory-policy'), 'maxmemory-policy\nnoeviction');
    const oom = await captureRedisError(server.clientOptions(), ['SET', 'big', 'x'.repeat(2_000_000)]);
    assert.equal(oom.error.name, 'ReplyError');
    assert.equal(oom.error.message, "OOM command not allowed when used memory > 'maxmemory'.");
    // Reads still work: the probe's GET step must not be confused with its SET step.
    assert.equal(await server.cli('GET', 'big'), '');
  });
});

test('start-up failure rejects with the redis log in the message', { timeout: 15_000 }, async () => {
  await assert.rejects(startRedis({ extraArgs: ['--no-such-directive', 'x'] }), (err: unknown) => {
    assert.ok(err instanceof RedisStartError);
    assert.equal(err.name, 'RedisStartError');
    assert.match(err.message, /redis-server exited during start-up/);
    assert.match(err.message, /Bad directive or wrong number of arguments/);
    return true;
  });
});

/** Starts a node process that starts a redis-server, prints its pid and data dir, then runs `then`. */
async function redisInChild(then: string): Promise<{ redisPid: number; dataDir: string; exited: Promise<void>; kill: () => void }> {
  const moduleUrl = pathToFileURL(join(import.meta.dirname, 'redis-server.ts')).href;
  const script = `import { startRedis } from ${JSON.stringify(moduleUrl)};
const server = await startRedis();
console.log(server.pid + ' ' + server.dataDir);
${then}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const line = await waitFor(() => out.includes('\n') && out, {
    timeoutMs: 10_000,
    message: 'the child to report its redis-server pid',
  });
  const [pid = '', dataDir = ''] = line.trim().split(' ');
  return { redisPid: Number(pid), dataDir, exited, kill: () => child.kill('SIGKILL') };
}

test('a test process that dies does not leave redis-server behind', { timeout: 20_000 }, async () => {
  // Exits normally without stop(): the 'exit' hook kills the server.
  const exiting = await redisInChild('process.exit(0);');
  await exiting.exited;
  await waitFor(() => !isAlive(exiting.redisPid), { timeoutMs: 3000, message: 'redis killed by the exit hook' });
  assert.equal(existsSync(exiting.dataDir), false, 'data dir removed by the exit hook');

  // SIGKILLed: no hook runs; the watchdog sees its pipe close and kills the server.
  const crashing = await redisInChild('setInterval(() => undefined, 1000);');
  assert.ok(isAlive(crashing.redisPid));
  crashing.kill();
  await crashing.exited;
  await waitFor(() => !isAlive(crashing.redisPid), { timeoutMs: 3000, message: 'redis killed by the watchdog' });
  await waitFor(() => !existsSync(crashing.dataDir), { timeoutMs: 3000, message: 'data dir removed by the watchdog' });
});
