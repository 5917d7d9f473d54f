import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { systemClock } from '../shared/clock.ts';
import { loadConfig, processConfigSources } from '../config/load-config.ts';
import type { DaemonConfig } from '../config/types.ts';
import { configWarnings } from '../config/warnings.ts';
import { createDaemon } from '../daemon/daemon.ts';
import type { Logger } from '../logging/logger.ts';
import { cronTickSource } from '../daemon/scheduler.ts';
import { watchConfigFile } from '../daemon/config-watcher.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import type { WebConfig } from '../http/web-config.ts';
import { EXIT_OK } from './exit-codes.ts';
import { describeError } from '../shared/error-text.ts';

/** `redis-probe run`: the daemon until SIGTERM or SIGINT, reloading on SIGHUP and on a changed file. */
export async function runCommand(
  config: DaemonConfig,
  redactor: SecretRedactor,
  logger: Logger,
  configPath: string,
  version: string,
  web?: WebConfig,
): Promise<number> {
  const daemon = createDaemon(config, {
    ...(web ? { web } : {}),
    clock: systemClock,
    logger,
    redactor,
    tickSource: cronTickSource((message) => logger.debug('node-cron', { message })),
    instanceId: hostname(),
    randomValue: randomUUID,
    version,
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
    onError: (error) => logger.debug('config watch', { error: describeError(error) }),
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
