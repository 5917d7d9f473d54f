import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { freePort } from './free-port.ts';
import type { TlsCerts } from './tls-certs.ts';
import { waitFor } from './wait.ts';

export const REDIS_HOST = '127.0.0.1';

/** An ACL user created at start-up with `user <name> on ><password> <rules>`. */
export interface AclUser {
  readonly name: string;
  readonly password: string;
  /** Space-separated ACL rules, e.g. `'+@all -client ~* &*'`. */
  readonly rules: string;
}

/** Which leaf certificate from {@link TlsCerts} the server presents. */
export type TlsServerCert = 'server' | 'expiredServer' | 'wrongHostServer';

/** How to start a redis-server; every field is optional and the defaults give a plain, empty cache. */
export interface RedisServerOptions {
  /** Listen on this port (e.g. to take over from a stopped server); default: a free port. */
  readonly port?: number;
  /** `requirepass` for the default user (also used as `masterauth` for replicas). */
  readonly password?: string;
  readonly aclUsers?: readonly AclUser[];
  /** Serve TLS only (plain port 0) with these certs. */
  readonly tls?: TlsCerts;
  /** Which cert to present when `tls` is set; default `'server'`. */
  readonly tlsServerCert?: TlsServerCert;
  /** `tls-auth-clients`; default `'no'`. With `'yes'` clients need `tls.client` (see {@link RedisServer.clientOptions}). */
  readonly tlsAuthClients?: 'no' | 'yes' | 'optional';
  /** e.g. `'1mb'`; sets `maxmemory-policy noeviction` so writes fail with OOM. */
  readonly maxmemory?: string;
  readonly replicaOf?: { readonly host: string; readonly port: number };
  /** Enable cluster mode; the bus port is allocated alongside the client port. */
  readonly cluster?: { readonly nodeTimeoutMs?: number };
  /** Appended last, so they override anything above. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for the first PONG; default 10 000. */
  readonly startTimeoutMs?: number;
}

/** A running (or stopped) redis-server child process owned by a test. */
export interface RedisServer {
  readonly host: string;
  /** The port clients use: the TLS port when `tls` is set. Stable across restarts. */
  readonly port: number;
  /** Cluster bus port, when started with `cluster`. */
  readonly clusterBusPort: number | undefined;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  readonly dataDir: string;
  /** redis stdout/stderr, appended across restarts. */
  readonly logPath: string;
  readonly options: RedisServerOptions;
  /** SIGTERM, SIGKILL after 2 s; awaits exit and removes the data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and await exit (crash simulation); the data dir stays so `restart()` works. */
  kill(): Promise<void>;
  /** SIGSTOP: the port keeps accepting TCP connections but nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stop (if running) and start again on the same port with the same options. */
  restart(): Promise<void>;
  /** Runs one command over a short-lived admin connection; the reply flattened to text (arrays one item a line). */
  cli(...args: (string | number)[]): Promise<string>;
  /** Like `cli` but returns the reply as ioredis decoded it. */
  call(...args: (string | number)[]): Promise<unknown>;
  /** ioredis options reaching this server as the default user; TLS is always verified against the test CA (servername localhost). */
  clientOptions(): ConnectionOptions;
}

/** redis-server did not become ready; the message includes the tail of its log. */
export class RedisStartError extends Error {
  override readonly name = 'RedisStartError';
}

const STOP_GRACE_MS = 2000;
const ADMIN_CONNECT_TIMEOUT_MS = 2000;
const ADMIN_COMMAND_TIMEOUT_MS = 5000;
const PORT_RETRIES = 5;

// Every redis-server (and its watchdog) still alive in this process: killed on 'exit'
// so a crashing or forgetful test never leaves servers behind.
const liveChildren = new Set<ChildProcess>();
// Data dirs of servers not yet stop()ped, removed on 'exit' for the same reason.
const liveDataDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of liveDataDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function track(child: ChildProcess): void {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/**
 * 'exit' hooks do not run when the test process is killed by a signal (e.g. the runner's
 * timeout), so each server gets a tiny shell that holds a pipe from us: when we die the
 * pipe closes, `read` returns, and the shell SIGKILLs the server.
 */
function spawnWatchdog(pid: number, dataDir: string): ChildProcess {
  const script = 'read _unused; kill -9 "$1" 2>/dev/null; rm -rf -- "$2"';
  const watchdog = spawn('sh', ['-c', script, 'redis-watchdog', String(pid), dataDir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  if (watchdog.stdin instanceof Socket) watchdog.stdin.unref();
  watchdog.stdin?.on('error', () => undefined);
  track(watchdog);
  return watchdog;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    // A ref'd timer keeps the event loop alive while we wait (the child itself is unref'd).
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function formatReply(reply: unknown): string {
  if (reply === null || reply === undefined) return '';
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  if (Array.isArray(reply)) return reply.map(formatReply).join('\n');
  // RESP3 maps only arrive as objects with replyMapping 'resp3'; flatten them like redis-cli does.
  if (reply instanceof Map) return [...reply].flat().map(formatReply).join('\n');
  if (typeof reply === 'object') return Object.entries(reply).flat().map(formatReply).join('\n');
  return String(reply);
}

function tailOfFile(path: string, maxChars = 4000): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  } catch {
    return '(no log)';
  }
}

function buildArgs(options: RedisServerOptions, dataDir: string, port: number, busPort: number | undefined): string[] {
  const args = ['--bind', REDIS_HOST, '--save', '', '--appendonly', 'no', '--dir', dataDir, '--daemonize', 'no'];
  // DEBUG lets tests simulate slow/busy servers (DEBUG SLEEP) from loopback only.
  args.push('--enable-debug-command', 'local');
  // The default 5 s diskless-sync delay would hold every new replica (and cluster failover) back.
  args.push('--repl-diskless-sync-delay', '0');
  const tls = options.tls;
  if (tls) {
    const leaf = tls[options.tlsServerCert ?? 'server'];
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      leaf.certPath,
      '--tls-key-file',
      leaf.keyPath,
      '--tls-ca-cert-file',
      tls.ca.certPath,
      '--tls-auth-clients',
      options.tlsAuthClients ?? 'no',
      '--tls-replication',
      'yes',
    );
    if (options.cluster) args.push('--tls-cluster', 'yes');
  } else {
    args.push('--port', String(port));
  }
  if (options.password !== undefined) args.push('--requirepass', options.password, '--masterauth', options.password);
  for (const user of options.aclUsers ?? []) {
    args.push('--user', user.name, 'on', `>${user.password}`, ...user.rules.split(/\s+/).filter((r) => r !== ''));
  }
  if (options.maxmemory !== undefined) args.push('--maxmemory', options.maxmemory, '--maxmemory-policy', 'noeviction');
  if (options.replicaOf) args.push('--replicaof', options.replicaOf.host, String(options.replicaOf.port));
  if (options.cluster && busPort !== undefined) {
    args.push(
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(options.cluster.nodeTimeoutMs ?? 1500),
      // An explicit bus port: the default (port + 10000) overflows for ephemeral ports.
      '--cluster-port',
      String(busPort),
    );
  }
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Options reaching the server as the default user. `audience: 'admin'` skips certificate checks when
 * the server deliberately presents a bad cert (the harness must still manage it); clients always verify.
 */
function connectionOptions(options: RedisServerOptions, port: number, audience: 'admin' | 'client'): ConnectionOptions {
  const base: ConnectionOptions = { host: REDIS_HOST, port };
  if (options.password !== undefined) base.password = options.password;
  const tls = options.tls;
  if (tls) {
    const badCert = (options.tlsServerCert ?? 'server') !== 'server';
    base.tls = {
      ca: tls.ca.certPem,
      servername: 'localhost',
      rejectUnauthorized: audience === 'client' || !badCert,
      ...(options.tlsAuthClients === 'yes' || options.tlsAuthClients === 'optional' ? { cert: tls.client.certPem, key: tls.client.keyPem } : {}),
    };
  }
  return base;
}

/** One command over a throwaway connection that never retries: what redis-cli would do. */
export async function oneShotCommand(connection: ConnectionOptions, args: readonly (string | number)[]): Promise<unknown> {
  const [command, ...rest] = args;
  if (command === undefined) throw new Error('oneShotCommand: no command given');
  const client = new Redis({
    ...connection,
    lazyConnect: true,
    connectTimeout: ADMIN_CONNECT_TIMEOUT_MS,
    commandTimeout: ADMIN_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    // ioredis arms this timer even for an already-closed stream; the 2 s default delays process exit.
    disconnectTimeout: 100,
  });
  // Errors arrive through connect()/call(); the event would otherwise be unhandled noise.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(String(command), rest.map(String));
  } finally {
    if (client.status !== 'end') client.disconnect();
  }
}

/** What a failed connect-and-command looked like to ioredis. */
export interface CapturedRedisError {
  /** The most specific error: the first 'error' event when connect() only says "Connection is closed.". */
  readonly error: Error & { code?: string };
  /** What the command/connect promise rejected with. */
  readonly rejection: Error;
  /** Every 'error' event, in order. */
  readonly events: readonly (Error & { code?: string })[];
  readonly elapsedMs: number;
}

/**
 * Connects with `connection` (no retries) and runs `args`, expecting failure; resolves with the errors
 * ioredis produced, so tests can assert real codes. With `retryStrategy: null` ioredis rejects connect()
 * with a bare "Connection is closed." and reports the cause (TLS code, ECONNREFUSED, ...) only as an event.
 */
export async function captureRedisError(connection: ConnectionOptions, args: readonly (string | number)[] = ['PING']): Promise<CapturedRedisError> {
  const [command, ...rest] = args;
  if (command === undefined) throw new Error('captureRedisError: no command given');
  const events: (Error & { code?: string })[] = [];
  const client = new Redis({
    lazyConnect: true,
    connectTimeout: ADMIN_CONNECT_TIMEOUT_MS,
    commandTimeout: ADMIN_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100,
    ...connection,
  });
  client.on('error', (err: Error) => events.push(err));
  const startedMs = performance.now();
  try {
    await client.connect();
    const reply = await client.call(String(command), rest.map(String));
    throw new Error(`captureRedisError: ${String(command)} unexpectedly succeeded with ${formatReply(reply)}`);
  } catch (err) {
    const rejection = err instanceof Error ? err : new Error(String(err));
    if (rejection.message.startsWith('captureRedisError:')) throw rejection;
    const elapsedMs = performance.now() - startedMs;
    const error = rejection.message === 'Connection is closed.' && events[0] ? events[0] : rejection;
    return { error, rejection, events, elapsedMs };
  } finally {
    if (client.status !== 'end') client.disconnect();
  }
}

/** Starts a redis-server on 127.0.0.1 and resolves once it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'redis-probe-redis-'));
  installExitHook();
  liveDataDirs.add(dataDir);
  const logPath = join(dataDir, 'redis.log');
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;

  let port = options.port ?? 0;
  let busPort: number | undefined;
  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let stopped = false;

  async function launchOnce(): Promise<'ok' | 'port-in-use'> {
    mkdirSync(dataDir, { recursive: true });
    const logFd = openSync(logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn('redis-server', buildArgs(options, dataDir, port, busPort), {
        cwd: dataDir,
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    // Unref'd: a server a test forgot to stop must not keep the test process alive (the exit hook kills it).
    proc.unref();
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    track(proc);
    child = proc;
    if (proc.pid !== undefined) watchdog = spawnWatchdog(proc.pid, dataDir);

    const exited = new Promise<'exited'>((resolve) => proc.once('exit', () => resolve('exited')));
    const abort = new AbortController();
    // Ask for the pid, not just PONG: if our server failed to bind, another test's redis may own the port.
    const ready = waitFor(
      async () => {
        const info = formatReply(await oneShotCommand(connectionOptions(options, port, 'admin'), ['INFO', 'server']));
        return /^process_id:(\d+)\r?$/m.exec(info)?.[1] === String(proc.pid);
      },
      {
        timeoutMs: startTimeoutMs,
        intervalMs: 20,
        message: `redis-server (pid ${String(proc.pid)}) to answer on port ${port}`,
        signal: abort.signal,
      },
    ).then(() => 'ready' as const);
    let outcome: 'ready' | 'exited' | Error;
    try {
      outcome = await Promise.race([ready, exited, spawnError]);
    } catch (err) {
      outcome = err instanceof Error ? err : new Error(String(err));
    }
    if (outcome === 'ready') return 'ok';
    abort.abort();
    ready.catch(() => undefined);
    await terminate();
    const log = tailOfFile(logPath);
    if (outcome === 'exited' && options.port === undefined && /Address already in use/i.test(log)) {
      return 'port-in-use';
    }
    const why = outcome === 'exited' ? 'redis-server exited during start-up' : outcome.message;
    throw new RedisStartError(`${why} (port ${port})\n--- redis log ---\n${log}`, {
      cause: outcome === 'exited' ? undefined : outcome,
    });
  }

  async function launch(): Promise<void> {
    // Ports we picked ourselves can be re-picked when another process grabbed them first.
    const pickPorts = options.port === undefined;
    for (let attempt = 1; ; attempt += 1) {
      if (pickPorts) port = await freePort();
      if (options.cluster && (pickPorts || busPort === undefined)) busPort = await freePort();
      const result = await launchOnce();
      if (result === 'ok') return;
      if (!pickPorts || attempt >= PORT_RETRIES) {
        throw new RedisStartError(`port ${port} or ${String(busPort)} in use\n${tailOfFile(logPath)}`);
      }
    }
  }

  async function terminate(): Promise<void> {
    const proc = child;
    if (proc) {
      try {
        // A stopped process would hold SIGTERM pending forever.
        proc.kill('SIGCONT');
        proc.kill('SIGTERM');
      } catch {
        // already gone
      }
      if (!(await waitForExit(proc, STOP_GRACE_MS))) {
        proc.kill('SIGKILL');
        await waitForExit(proc, STOP_GRACE_MS);
      }
    }
    watchdog?.kill('SIGKILL');
    watchdog = undefined;
  }

  try {
    await launch();
  } catch (err) {
    // The log tail is already in the error; nothing else in the dir is worth keeping.
    liveDataDirs.delete(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const server: RedisServer = {
    host: REDIS_HOST,
    get port() {
      return port;
    },
    get clusterBusPort() {
      return busPort;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    dataDir,
    logPath,
    options,
    async stop() {
      await terminate();
      if (!stopped) {
        stopped = true;
        liveDataDirs.delete(dataDir);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    async kill() {
      const proc = child;
      if (proc) {
        proc.kill('SIGKILL');
        await waitForExit(proc, STOP_GRACE_MS);
      }
      watchdog?.kill('SIGKILL');
      watchdog = undefined;
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async restart() {
      await terminate();
      stopped = false;
      liveDataDirs.add(dataDir);
      // Same client and bus ports: restart-on-same-port is the point.
      const result = await launchOnce();
      if (result !== 'ok') throw new RedisStartError(`restart: port ${port} in use\n${tailOfFile(logPath)}`);
    },
    cli: async (...args) => formatReply(await oneShotCommand(connectionOptions(options, port, 'admin'), args)),
    call: (...args) => oneShotCommand(connectionOptions(options, port, 'admin'), args),
    clientOptions: () => connectionOptions(options, port, 'client'),
  };
  return server;
}
