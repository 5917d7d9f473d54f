#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, processConfigSources } from './config/load-config.ts';
import { ConfigError } from './config/config-error.ts';
import type { DaemonConfig } from './config/types.ts';
import { createLogger } from './logging/logger.ts';
import type { Logger } from './logging/logger.ts';
import { createSecretRedactor } from './shared/secrets.ts';
import type { SecretRedactor } from './shared/secrets.ts';
import { runDoctor } from './doctor/doctor.ts';
import { runSla } from './sla/sla-command.ts';
import { SloSpecError, formatSlothSpec, slothSpec } from './sla/slo-spec.ts';
import { WebConfigError, loadWebConfig } from './http/web-config.ts';
import type { WebConfig } from './http/web-config.ts';

import { EXIT_CONFIG, EXIT_CRASH, EXIT_OK } from './commands/exit-codes.ts';
import { onceCommand } from './commands/once.ts';
import { runCommand } from './commands/run.ts';
import { validateCommand } from './commands/validate.ts';
import { describeError, errorMessage } from './shared/error-text.ts';

const USAGE = `usage: redis-probe <command> [options]

commands:
  run       --config FILE              run the daemon (FILE may also come from REDIS_PROBE_CONFIG)
  once      --config FILE [--target N] one cycle against every target (or one), quickstart-style output
  validate  --config FILE              check a config; exit 0, or 2 with every error
  doctor    --config FILE [--target N] | --host H [...]
                                       say which layer of a connection fails and why (doctor --help)
  sla       --prometheus URL [...]     monthly uptime per target as Azure counts it (redis-probe sla --help)
  slo-spec  --config FILE [--target N] [--job NAME]
                                       print a Sloth SLO spec (prometheus/v1), one SLO per target;
                                       NAME is the scrape job of redis-probe (default redis-probe)

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

/** A crash's log line gets this long to be written before the process exits regardless. */
const CRASH_FLUSH_TIMEOUT_MS = 5_000;

type Command = 'run' | 'once' | 'validate' | 'slo-spec';
const COMMANDS: readonly string[] = ['run', 'once', 'validate', 'slo-spec'] satisfies Command[];

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
        job: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`redis-probe: ${errorMessage(error)}\n\n${USAGE}\n`);
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
  if (parsed.values.job !== undefined && command !== 'slo-spec') {
    process.stderr.write(`redis-probe: --job belongs to slo-spec, not ${command}\n\n${USAGE}\n`);
    return EXIT_CONFIG;
  }
  context.command = command;
  const configPath = parsed.values.config ?? process.env.REDIS_PROBE_CONFIG;
  const config = loadOrReport(configPath);
  if (!config) return EXIT_CONFIG;
  if (command === 'slo-spec') return sloSpecCommand(config, parsed.values.job ?? 'redis-probe', parsed.values.target);
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
    return command === 'once'
      ? await onceCommand(config, parsed.values.target, redactor, logger)
      : await runCommand(config, redactor, logger, configPath ?? '', readVersion(), webConfig.web);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`redis-probe: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    await reportCrash(error, context);
    return EXIT_CRASH;
  }
}

/** Prints the Sloth spec of the config's targets; a spec Sloth would refuse is a usage error instead. */
function sloSpecCommand(config: DaemonConfig, job: string, only: string | undefined): number {
  try {
    const chosen = only === undefined ? config.targets : config.targets.filter((t) => t.name === only);
    if (chosen.length === 0) throw new SloSpecError(`no target "${only ?? ''}" in the config; its targets: ${config.targets.map((t) => t.name).join(', ')}`);
    const targets = chosen.map((t) => ({ name: t.name, objective: t.sla.objective, labels: t.labels }));
    process.stdout.write(formatSlothSpec(slothSpec(targets, job)));
    return EXIT_OK;
  } catch (error) {
    if (error instanceof SloSpecError) {
      process.stderr.write(`redis-probe: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    throw error;
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
  const message = redactor.redact(describeError(error));
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
