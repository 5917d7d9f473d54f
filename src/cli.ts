#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { systemClock } from './clock.ts';
import { ConfigError, loadConfig, processConfigSources } from './config/load-config.ts';
import type { DaemonConfig } from './config/types.ts';
import { formatDurationMs } from './config/duration.ts';
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
import { WebConfigError, loadWebConfig } from './http/web-config.ts';
import type { WebConfig } from './http/web-config.ts';
import { labelLimitWarnings } from './config/label-limits.ts';

const USAGE = `usage: redis-probe <command> [options]

commands:
  run       --config FILE              run the daemon (FILE may also come from REDIS_PROBE_CONFIG)
  once      --config FILE [--target N] one cycle against every target (or one), quickstart-style output
  validate  --config FILE              check a config; exit 0, or 2 with every error

options:
  --web.config.file FILE               TLS and basic auth for the HTTP endpoints (exporter-toolkit format)
  -v, --version                        print the version and exit

exit codes: 0 ok, 1 a target failed (once), 2 configuration or usage error`;

const EXIT_OK = 0;
const EXIT_TARGET_FAILED = 1;
const EXIT_CONFIG = 2;

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
      ...labelLimitWarnings(config).map((warning) => `warning: ${warning}`),
      '',
    ].join('\n'),
  );
  return EXIT_OK;
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
  process.stdout.write(`${reports.map((report) => redactor.redact(report.text)).join('\n\n')}\n`);
  return reports.every((report) => report.result.success) ? EXIT_OK : EXIT_TARGET_FAILED;
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
  for (const warning of labelLimitWarnings(config)) logger.warn('target labels would pass the Azure managed Prometheus limits', { warning });
  await daemon.start();
  return new Promise<number>((resolve) => {
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
  });
}

export async function main(argv: readonly string[]): Promise<number> {
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
  if (!['run', 'once', 'validate'].includes(command) || extra.length > 0) {
    process.stderr.write(`redis-probe: unknown command "${[command, ...extra].join(' ')}"\n\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  const configPath = parsed.values.config ?? process.env.REDIS_PROBE_CONFIG;
  const config = loadOrReport(configPath);
  if (!config) return EXIT_CONFIG;
  // Never an unprotected listener: a web config that cannot be used stops the start.
  const webConfig = loadWebConfigOrReport(parsed.values['web.config.file'], config);
  if (!webConfig) return EXIT_CONFIG;
  if (command === 'validate') return validateCommand(config, webConfig.web);

  const redactor = createSecretRedactor();
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    redactor,
    // OpenTelemetry resource attributes, so these lines join the rest in a log store.
    defaultMeta: { 'service.name': 'redis-probe', 'service.version': readVersion() },
    // `once` keeps stdout for its report.
    ...(command === 'once' ? { stream: process.stderr } : {}),
  });
  try {
    return command === 'once' ? await onceCommand(config, parsed.values.target, redactor, logger) : await runCommand(config, redactor, logger, configPath ?? '', webConfig.web);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`redis-probe: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    logger.error('fatal error', { error: redactor.redact(String(error)) });
    await logger.flush();
    return EXIT_TARGET_FAILED;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // The daemon has closed everything it owns; do not wait on a library's stray handle.
    if (process.argv[2] === 'run') process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`redis-probe: fatal: ${String(error)}\n`);
    process.exitCode = EXIT_TARGET_FAILED;
  },
);
