#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from './clock.ts';
import { ConfigError, loadConfig, processConfigSources } from './config/load-config.ts';
import type { DaemonConfig } from './config/types.ts';
import { formatDurationMs } from './config/duration.ts';
import { configWarnings, estimateLoad } from './config/warnings.ts';
import { createCredential } from './credential-factory.ts';
import { tokenTelemetry } from './auth/token-telemetry.ts';
import { createDaemon } from './daemon.ts';
import { createLogger } from './logging.ts';
import type { Logger } from './logging.ts';
import { formatOnceReport } from './once-report.ts';
import { createTargetRunner } from './target-runner.ts';
import { cronTickSource } from './scheduler.ts';
import { watchConfigFile } from './reload/config-watcher.ts';
import { ownedTargets } from './shard.ts';
import { createSecretRedactor } from './secrets.ts';
import type { SecretRedactor } from './secrets.ts';
import { runDoctor } from './doctor/doctor.ts';
import { runSla } from './sla/sla-command.ts';
import { WebConfigError, loadWebConfig } from './http/web-config.ts';
import type { WebConfig } from './http/web-config.ts';

const USAGE = `usage: redis-probe <command> [options]

commands:
  run       --config FILE              run the daemon (FILE may also come from REDIS_PROBE_CONFIG)
  once      --config FILE [--target N] one cycle against every target (or one), quickstart-style output
  validate  --config FILE              check a config; exit 0, or 2 with every error
  doctor    --config FILE [--target N] | --host H [...]
                                       say which layer of a connection fails and why (doctor --help)
  sla       --prometheus URL [...]     monthly uptime per target as Azure counts it (redis-probe sla --help)

options:
  --web.config.file FILE               TLS and basic auth for the HTTP endpoints (exporter-toolkit format)
  -v, --version                        print the version and exit

exit codes:
  0         ok; run: stopped by SIGTERM or SIGINT
  1         once: a target failed; doctor: a layer failed
  2         configuration or usage error
  3, 4, 5   sla: Prometheus unreachable, no series, bad time range (sla --help)
  70        internal error (a crash): logged with secrets redacted
  74        once: the report could not be written (stdout closed)
  130, 143  run: a second SIGINT or SIGTERM while shutting down`;

const EXIT_OK = 0;
const EXIT_TARGET_FAILED = 1;
const EXIT_CONFIG = 2;
/** sysexits.h EX_SOFTWARE: apart from "a target failed" (1), so a crash never reads as a red target. */
export const EXIT_CRASH = 70;
/** sysexits.h EX_IOERR: the output went nowhere (a closed pipe), so `once` must not claim success. */
const EXIT_OUTPUT = 74;
/** A crash's log line gets this long to be written before the process exits regardless. */
const CRASH_FLUSH_TIMEOUT_MS = 5_000;

type Command = 'run' | 'once' | 'validate';
const COMMANDS: readonly string[] = ['run', 'once', 'validate'] satisfies Command[];

/** What main shares with the process around it: the crash handler's redactor and logger, the parsed command. */
export interface CliContext {
  readonly redactor: SecretRedactor;
  /** The redacting logger, once main has made one; crashes before that go to stderr. */
  logger?: Logger;
  command?: Command;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function loadOrReport(configPath: string | undefined): DaemonConfig | undefined {
  if (!configPath) {
    process.stderr.write(`redis-probe: --config FILE (or REDIS_PROBE_CONFIG) is required\n\n${USAGE}\n`);
    return undefined;
  }
  try {
    return loadConfig(configPath, processConfigSources());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`redis-probe: ${configPath}: ${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

/** The web config named by --web.config.file, else server.webConfigFile; a bad one is reported, never skipped. */
function loadWebConfigOrReport(flag: string | undefined, config: DaemonConfig): { web?: WebConfig } | undefined {
  const path = flag ?? config.server.webConfigFile;
  if (path === undefined) return {};
  try {
    return { web: loadWebConfig(path, { readFile: (file) => readFileSync(file, 'utf8') }) };
  } catch (error) {
    if (error instanceof WebConfigError) {
      process.stderr.write(`redis-probe: ${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

function describeWeb(web: WebConfig | undefined): string {
  if (!web) return 'plain HTTP, no authentication';
  const users = web.basicAuthUsers.size;
  const tls = web.tls ? `TLS (min ${web.tls.minVersion}, client certificates: ${web.tls.clientAuth})` : 'plain HTTP';
  return `${tls}, ${users > 0 ? `basic auth (${users} user${users > 1 ? 's' : ''})` : 'no basic auth'} on /metrics and /`;
}

async function validateCommand(config: DaemonConfig, web?: WebConfig): Promise<number> {
  const schedules = [...new Set(config.targets.map((target) => target.schedule))];
  process.stdout.write(
    [
      'configuration is valid',
      `  targets: ${config.targets.length} (${config.targets.map((target) => target.name).join(', ')})`,
      `  credentials: ${config.credentials.length}${config.credentials.length ? ` (${config.credentials.map((c) => `${c.name}: ${c.type}`).join(', ')})` : ''}`,
      `  schedules: ${schedules.join(', ')}`,
      `  timeouts: ${[...new Set(config.targets.map((target) => formatDurationMs(target.timeoutMs)))].join(', ')}`,
      `  http: ${config.server.host}:${config.server.port}, ${describeWeb(web)}`,
      `  location: ${config.location ?? 'none (no location label)'}`,
      `  shard: ${describeShard(config)}`,
      `  load: ${describeLoad(config)}`,
      ...warningLines(configWarnings(config)),
      '',
    ].join('\n'),
  );
  return EXIT_OK;
}

function describeLoad(config: DaemonConfig): string {
  const load = estimateLoad(config);
  const perSecond = (rate: number) => (rate >= 10 ? Math.round(rate) : Number(rate.toFixed(2)));
  return `about ${perSecond(load.cyclesPerSecond)} cycles a second, ${perSecond(load.commandsPerSecond)} commands a second, ${load.connections} connections held open`;
}

function warningLines(warnings: readonly string[]): string[] {
  return warnings.length === 0 ? [] : ['warnings:', ...warnings.map((warning) => `  - ${warning}`)];
}

function describeShard(config: DaemonConfig): string {
  const { shard } = config;
  if (!shard) return `none (this replica probes all ${config.targets.length} targets)`;
  const owned = ownedTargets(config.targets, shard).map((target) => target.name);
  const from = { config: 'shard.index', env: 'REDIS_PROBE_SHARD_INDEX', hostname: 'the host name' }[shard.source];
  return `${shard.index} of ${shard.count} (index from ${from}); probes ${owned.length} of ${config.targets.length} targets${owned.length ? ` (${owned.join(', ')})` : ''}`;
}

async function onceCommand(config: DaemonConfig, targetName: string | undefined, redactor: SecretRedactor, logger: Logger): Promise<number> {
  const targets = targetName === undefined ? config.targets : config.targets.filter((target) => target.name === targetName);
  if (targets.length === 0) {
    process.stderr.write(`redis-probe: no target named "${targetName}" (known: ${config.targets.map((t) => t.name).join(', ')})\n`);
    return EXIT_CONFIG;
  }
  const needed = new Set(targets.flatMap((target) => (target.credential ? [target.credential] : [])));
  const credentials = new Map(
    config.credentials
      .filter((credentialConfig) => needed.has(credentialConfig.name))
      .map((credentialConfig) => [
        credentialConfig.name,
        createCredential(credentialConfig, {
          redactor,
          clock: systemClock,
          random: Math.random,
          tokenObserver: () => tokenTelemetry(undefined, logger),
        }),
      ]),
  );
  await Promise.all([...credentials.values()].map((credential) => credential.ready()));
  const instanceId = `${hostname()}-once`;
  const reports = await Promise.all(
    targets.map(async (target) => {
      const credential = target.credential ? credentials.get(target.credential) : undefined;
      const runner = createTargetRunner(target, {
        clock: systemClock,
        ...(credential ? { credential } : {}),
        instanceId,
        randomValue: randomUUID,
        redactor,
        listClients: true,
      });
      const results = await runner.run('manual');
      await runner.close();
      let principal: string | undefined;
      try {
        principal = credential?.current().username;
      } catch {
        principal = undefined;
      }
      // A cluster yields one result per primary, each reported on its own.
      return results.map((result) => ({ result, text: formatOnceReport(target, result, principal) }));
    }),
  ).then((perTarget) => perTarget.flat());
  for (const credential of credentials.values()) credential.close();
  try {
    await writeStdout(`${reports.map((report) => redactor.redact(report.text)).join('\n\n')}\n`);
  } catch (error) {
    process.stderr.write(`redis-probe: could not write the report to stdout: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    return EXIT_OUTPUT;
  }
  return reports.every((report) => report.result.success) ? EXIT_OK : EXIT_TARGET_FAILED;
}

/** Resolves once stdout has taken `text`; rejects when it cannot (a closed pipe: EPIPE). */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The stream also emits the error, after the callback: unheard, that would be an uncaught exception.
    const onError = (error: Error): void => reject(error);
    process.stdout.on('error', onError);
    process.stdout.write(text, (error) => {
      if (error) return reject(error);
      process.stdout.off('error', onError);
      resolve();
    });
  });
}

async function runCommand(config: DaemonConfig, redactor: SecretRedactor, logger: Logger, configPath: string, web?: WebConfig): Promise<number> {
  const daemon = createDaemon(config, {
    ...(web ? { web } : {}),
    clock: systemClock,
    logger,
    redactor,
    tickSource: cronTickSource((message) => logger.debug('node-cron', { message })),
    instanceId: hostname(),
    randomValue: randomUUID,
    version: readVersion(),
    random: Math.random,
  });
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', { error: String(reason) }));
  // Reload on SIGHUP and when the file's content changes (a ConfigMap update swaps the `..data` symlink).
  const reload = (trigger: string) => void daemon.reload(() => loadConfig(configPath, processConfigSources()), trigger);
  const watcher = watchConfigFile(configPath, {
    clock: systemClock,
    readFile: (path) => readFileSync(path),
    pollIntervalMs: 60_000,
    onChange: () => reload('file_changed'),
    onError: (error) => logger.debug('config watch', { error: String(error) }),
  });
  process.on('SIGHUP', () => {
    // Remember the content now, so the watcher does not reload the same change a second time.
    watcher.check();
    reload('SIGHUP');
  });
  for (const warning of configWarnings(config)) logger.warn('configuration warning', { warning });
  return new Promise<number>((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn('second signal: exiting at once', { signal });
        void logger.flush().then(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
        return;
      }
      stopping = true;
      watcher.close();
      logger.info('shutting down', { signal, graceMs: config.server.shutdownGraceMs });
      void daemon.stop().then(async () => {
        logger.info('stopped');
        await logger.flush();
        resolve(EXIT_OK);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Started once the signals are handled: a SIGTERM while start-up waits for a first token stops cleanly.
    daemon.start().catch((error: unknown) => {
      if (!stopping) reject(error);
    });
  });
}

/** Runs one command line; resolves with the exit code. Errors it cannot handle are logged as crashes (EXIT_CRASH). */
export async function main(argv: readonly string[], context: CliContext = { redactor: createSecretRedactor() }): Promise<number> {
  // doctor has flags of its own (ad hoc targets), parsed in its module.
  if (argv[0] === 'doctor') return runDoctor(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  // `sla` reads Prometheus, not a config: it has its own options and exit codes.
  if (argv[0] === 'sla') return runSla(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, now: Date.now });
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        target: { type: 'string', short: 't' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'web.config.file': { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`redis-probe: ${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  const [command, ...extra] = parsed.positionals;
  if (parsed.values.version) {
    process.stdout.write(`redis-probe ${readVersion()}\n`);
    return EXIT_OK;
  }
  if (parsed.values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !parsed.values.help ? EXIT_CONFIG : EXIT_OK;
  }
  if (!isCommand(command) || extra.length > 0) {
    process.stderr.write(`redis-probe: unknown command "${[command, ...extra].join(' ')}"\n\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  context.command = command;
  const configPath = parsed.values.config ?? process.env.REDIS_PROBE_CONFIG;
  const config = loadOrReport(configPath);
  if (!config) return EXIT_CONFIG;
  // Never an unprotected listener: a web config that cannot be used stops the start.
  const webConfig = loadWebConfigOrReport(parsed.values['web.config.file'], config);
  if (!webConfig) return EXIT_CONFIG;
  if (command === 'validate') return validateCommand(config, webConfig.web);

  const { redactor } = context;
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    redactor,
    // OpenTelemetry resource attributes, so these lines join the rest in a log store.
    defaultMeta: { 'service.name': 'redis-probe', 'service.version': readVersion() },
    // `once` keeps stdout for its report.
    ...(command === 'once' ? { stream: process.stderr } : {}),
  });
  context.logger = logger;
  try {
    return command === 'once' ? await onceCommand(config, parsed.values.target, redactor, logger) : await runCommand(config, redactor, logger, configPath ?? '', webConfig.web);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`redis-probe: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    await reportCrash(error, context);
    return EXIT_CRASH;
  }
}

function isCommand(value: string): value is Command {
  return COMMANDS.includes(value);
}

/**
 * Logs an error that ends the process, and waits until the line is written: through the redacting logger
 * once there is one, else to stderr through the redactor. Only text goes out, never the inspected object
 * Node would print (an ioredis AUTH error carries the password in `command.args`).
 */
export async function reportCrash(error: unknown, context: Pick<CliContext, 'redactor' | 'logger'>): Promise<void> {
  const { redactor, logger } = context;
  const message = redactor.redact(String(error));
  const stack = error instanceof Error && error.stack !== undefined ? redactor.redact(error.stack) : undefined;
  try {
    if (logger) {
      logger.error('fatal error', { error: message, ...(stack !== undefined ? { stack } : {}) });
      await logger.flush();
      return;
    }
  } catch {
    // The logger itself failed (its stream is gone): stderr is all that is left.
  }
  process.stderr.write(`redis-probe: fatal error: ${stack ?? message}\n`);
}

/**
 * Makes an uncaught exception, or a rejection nobody handled, a crash: reported by {@link reportCrash},
 * then exit with EXIT_CRASH. A second one while reporting (the log stream failing) exits at once.
 */
export function installCrashHandler(context: Pick<CliContext, 'redactor' | 'logger'>): void {
  let crashing = false;
  process.on('uncaughtException', (error) => {
    if (crashing) process.exit(EXIT_CRASH);
    crashing = true;
    exitAfterCrash(error, context);
  });
}

function exitAfterCrash(error: unknown, context: Pick<CliContext, 'redactor' | 'logger'>): void {
  process.exitCode = EXIT_CRASH;
  // A log stream that never drains must not keep a crashed process alive.
  setTimeout(() => process.exit(EXIT_CRASH), CRASH_FLUSH_TIMEOUT_MS).unref();
  void reportCrash(error, context).finally(() => process.exit(EXIT_CRASH));
}

/** Whether this module is the program (the bin, `node dist/cli.js`) rather than imported by other code. */
function isEntryPoint(): boolean {
  if (typeof import.meta.main === 'boolean') return import.meta.main;
  // Node before 24.2 has no import.meta.main; the bin is a symlink, so compare real paths.
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const context: CliContext = { redactor: createSecretRedactor() };
  installCrashHandler(context);
  main(process.argv.slice(2), context).then(
    (code) => {
      process.exitCode = code;
      // The daemon has closed everything it owns, and a crash may have left anything open: do not wait on a
      // library's stray handle.
      if (context.command === 'run' || code === EXIT_CRASH) process.exit(code);
    },
    (error: unknown) => exitAfterCrash(error, context),
  );
}
