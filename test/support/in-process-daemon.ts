import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../src/shared/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { ConfigSources } from '../../src/config/load-config.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import type { Daemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { cronTickSource } from '../../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { readFileSync } from 'node:fs';

/** A daemon in this test process with its JSON log lines kept in memory. */
export interface InProcessDaemon {
  readonly daemon: Daemon;
  /** Every log line written so far, parsed. */
  logs(): Record<string, unknown>[];
  /** Every log line written so far, as text. */
  rawLogs(): string;
  metricsText(): Promise<string>;
}

/** Builds and starts a daemon from YAML text, the way cli.ts does, with real clock and node-cron. */
export async function startInProcessDaemon(yaml: string, options: { baseDir: string; env?: Record<string, string> }): Promise<InProcessDaemon> {
  const sources: ConfigSources & { baseDir: string } = {
    env: options.env ?? {},
    readFile: (path) => readFileSync(path, 'utf8'),
    baseDir: options.baseDir,
  };
  const config = parseConfig(yaml, sources);
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString();
      callback();
    },
  });
  const redactor = createSecretRedactor();
  const logger = createLogger({ level: 'debug', format: 'json', redactor, stream });
  const daemon = createDaemon(config, {
    clock: systemClock,
    logger,
    redactor,
    tickSource: cronTickSource(),
    instanceId: `test-${randomUUID().slice(0, 8)}`,
    randomValue: randomUUID,
    random: Math.random,
    version: 'test',
  });
  await daemon.start();
  return {
    daemon,
    rawLogs: () => raw,
    logs: () =>
      raw
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    metricsText: () => daemon.metrics.registry.metrics(),
  };
}
