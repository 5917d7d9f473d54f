/**
 * A real Prometheus server (Debian package `prometheus`) owned by a test: its own config,
 * TSDB directory and loopback port, never the system one on :9090. Queried through the
 * HTTP API exactly as Grafana and alertmanager-facing tooling would.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, cpSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { freePort } from './free-port.ts';
import { waitFor } from './wait.ts';

/** One `scrape_configs` entry, as Prometheus' YAML has it. */
export interface ScrapeConfig {
  readonly job_name: string;
  readonly static_configs: readonly { readonly targets: readonly string[]; readonly labels?: Record<string, string> }[];
  readonly metrics_path?: string;
  readonly scrape_interval?: string;
  readonly scrape_timeout?: string;
}

/** How to start Prometheus; intervals default to 1s so a test sees data within seconds. */
export interface PrometheusOptions {
  readonly scrapeConfigs: readonly ScrapeConfig[];
  /** Absolute paths of rule files (`rule_files:`). */
  readonly ruleFiles?: readonly string[];
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
  /** How long to wait for `/-/ready`; default 20 000. */
  readonly startTimeoutMs?: number;
  /** TSDB blocks (e.g. from `promtool tsdb create-blocks-from`) copied into the data directory before start. */
  readonly seedBlocksDir?: string;
  /** `--storage.tsdb.retention.time` (default Prometheus' 15d): backfilled history older than that is dropped at start. */
  readonly retention?: string;
}

/** A sample of an instant vector. */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

/** The envelope of every `/api/v1/*` answer. */
export interface PromApiResponse<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
  readonly warnings?: readonly string[];
}

/** `data` of `/api/v1/query`. */
export interface PromQueryData {
  readonly resultType: 'vector' | 'scalar' | 'matrix' | 'string';
  readonly result: unknown;
}

/** A rule as `/api/v1/rules` reports it. */
export interface PromApiRule {
  readonly name: string;
  readonly query: string;
  readonly type: 'recording' | 'alerting';
  readonly health: 'ok' | 'err' | 'unknown';
  readonly lastError?: string;
  readonly lastEvaluation: string;
  readonly state?: 'inactive' | 'pending' | 'firing';
  readonly labels?: Readonly<Record<string, string>>;
}

/** A rule group as `/api/v1/rules` reports it. */
export interface PromApiRuleGroup {
  readonly name: string;
  readonly file: string;
  readonly interval: number;
  readonly lastEvaluation: string;
  readonly rules: readonly PromApiRule[];
}

/** An alert as `/api/v1/alerts` reports it. */
export interface PromApiAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing';
  readonly activeAt: string;
  readonly value: string;
}

/** `lastEvaluation` of a group or rule that has never been evaluated. */
export const NEVER_EVALUATED = '0001-01-01T00:00:00Z';

/** A running Prometheus; stop() it in after(). */
export interface PrometheusServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Holds prometheus.yml, the TSDB (`data/`) and `prometheus.log`; removed by stop(). */
  readonly dir: string;
  /** GET `/api/v1/<path>` and parse the envelope (HTTP 4xx answers with an error envelope are returned, not thrown). */
  api<T>(path: string, params?: Record<string, string>): Promise<PromApiResponse<T>>;
  /** Instant query at the server's "now". */
  query(expr: string): Promise<PromApiResponse<PromQueryData>>;
  /** Instant query that must succeed and return a vector; throws with Prometheus' error otherwise. */
  vector(expr: string): Promise<PromSample[]>;
  ruleGroups(): Promise<PromApiRuleGroup[]>;
  alerts(): Promise<PromApiAlert[]>;
  /** The last `maxChars` of Prometheus' own log, for failure messages. */
  logTail(maxChars?: number): string;
  /** SIGTERM, SIGKILL after 5 s; removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/** Prometheus did not start or answer; the message carries the tail of its log. */
export class PrometheusStartError extends Error {
  override readonly name = 'PrometheusStartError';
}

const STOP_GRACE_MS = 5000;
const PORT_RETRIES = 5;
const REQUEST_TIMEOUT_MS = 10_000;

/** The prometheus binary: $PROMETHEUS, else `prometheus` on PATH. Throws a clear error when absent. */
export function prometheusBinary(): string {
  const binary = process.env['PROMETHEUS'] ?? 'prometheus';
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `prometheus not found (tried ${JSON.stringify(binary)}): install it with ` +
        '`apt-get install -y prometheus` (scripts/test.sh does) or point $PROMETHEUS at a prometheus binary',
    );
  }
  return binary;
}

/**
 * A tiny shell holding a pipe from this process: when the test process dies, even by a signal
 * that skips 'exit' hooks, the pipe closes, `read` returns and the shell SIGKILLs `pid`.
 * Kill the returned watchdog once `pid` has been stopped normally.
 */
export function killWithParent(pid: number, removeDir?: string): ChildProcess {
  const script = 'read _unused; kill -9 "$1" 2>/dev/null; [ -z "$2" ] || rm -rf -- "$2"';
  const watchdog = spawn('sh', ['-c', script, 'test-watchdog', String(pid), removeDir ?? ''], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  if (watchdog.stdin instanceof Socket) watchdog.stdin.unref();
  watchdog.stdin?.on('error', () => undefined);
  return watchdog;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
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

function tailOf(path: string, maxChars: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  } catch {
    return '(no log)';
  }
}

/** Starts Prometheus on a free 127.0.0.1 port and resolves once `/-/ready` answers 200. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = prometheusBinary();
  const dir = await mkdtemp(join(tmpdir(), 'redis-probe-prometheus-'));
  const configPath = join(dir, 'prometheus.yml');
  const logPath = join(dir, 'prometheus.log');
  writeFileSync(
    configPath,
    YAML.stringify({
      global: {
        scrape_interval: options.scrapeInterval ?? '1s',
        scrape_timeout: options.scrapeInterval ?? '1s',
        evaluation_interval: options.evaluationInterval ?? '1s',
      },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: options.scrapeConfigs,
    }),
  );
  if (options.seedBlocksDir !== undefined) cpSync(options.seedBlocksDir, join(dir, 'data'), { recursive: true });
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let port = 0;
  let stopped = false;
  const onExit = (): void => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };

  async function terminate(): Promise<void> {
    const proc = child;
    if (proc) {
      proc.kill('SIGTERM');
      if (!(await waitForExit(proc, STOP_GRACE_MS))) {
        proc.kill('SIGKILL');
        await waitForExit(proc, STOP_GRACE_MS);
      }
    }
    watchdog?.kill('SIGKILL');
    watchdog = undefined;
  }

  async function launchOnce(): Promise<'ok' | 'port-in-use'> {
    port = await freePort();
    const logFd = openSync(logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(
        binary,
        [
          `--config.file=${configPath}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--web.enable-lifecycle',
          '--log.level=info',
          ...(options.retention !== undefined ? [`--storage.tsdb.retention.time=${options.retention}`] : []),
        ],
        { cwd: dir, stdio: ['ignore', logFd, logFd] },
      );
    } finally {
      closeSync(logFd);
    }
    proc.unref();
    child = proc;
    if (proc.pid !== undefined) watchdog = killWithParent(proc.pid, dir);
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    const exited = new Promise<'exited'>((resolve) => proc.once('exit', () => resolve('exited')));
    const abort = new AbortController();
    const ready = waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200, {
      timeoutMs: startTimeoutMs,
      intervalMs: 100,
      message: `prometheus to be ready on port ${port}`,
      signal: abort.signal,
    }).then(() => 'ready' as const);
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
    const log = tailOf(logPath, 4000);
    if (outcome === 'exited' && /address already in use/i.test(log)) return 'port-in-use';
    const why = outcome === 'exited' ? 'prometheus exited during start-up' : outcome.message;
    throw new PrometheusStartError(`${why} (port ${port})\n--- prometheus log ---\n${log}`);
  }

  process.on('exit', onExit);
  try {
    for (let attempt = 1; ; attempt += 1) {
      if ((await launchOnce()) === 'ok') break;
      if (attempt >= PORT_RETRIES) throw new PrometheusStartError(`no free port after ${attempt} attempts\n${tailOf(logPath, 4000)}`);
    }
  } catch (err) {
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const url = `http://127.0.0.1:${port}`;
  async function api<T>(path: string, params: Record<string, string> = {}): Promise<PromApiResponse<T>> {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`${url}/api/v1/${path}${query === '' ? '' : `?${query}`}`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    try {
      return JSON.parse(text) as PromApiResponse<T>;
    } catch {
      throw new Error(`GET /api/v1/${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 500)}`);
    }
  }
  async function data<T>(path: string, params?: Record<string, string>): Promise<T> {
    const answer = await api<T>(path, params);
    if (answer.status !== 'success' || answer.data === undefined) {
      throw new Error(`GET /api/v1/${path} ${JSON.stringify(params ?? {})}: ${answer.errorType ?? '?'}: ${answer.error ?? '?'}`);
    }
    return answer.data;
  }

  return {
    url,
    port,
    dir,
    api,
    query: (expr) => api<PromQueryData>('query', { query: expr }),
    async vector(expr) {
      const result = await data<PromQueryData>('query', { query: expr });
      if (result.resultType !== 'vector') throw new Error(`${expr}: expected a vector, got ${result.resultType}`);
      return result.result as PromSample[];
    },
    ruleGroups: async () => (await data<{ groups: PromApiRuleGroup[] }>('rules')).groups,
    alerts: async () => (await data<{ alerts: PromApiAlert[] }>('alerts')).alerts,
    logTail: (maxChars = 4000) => tailOf(logPath, maxChars),
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate();
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
