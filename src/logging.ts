import winston from 'winston';
import type { LogLevel } from './config/types.ts';
import type { SecretRedactor } from './secrets.ts';

/** The logger every module receives; winston's own type is not leaked. */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Waits until buffered lines are written (before exit). */
  flush(): Promise<void>;
}

/** JSON lines (or coloured text with `pretty`) with every known secret scrubbed from every line. */
export function createLogger(options: {
  level: LogLevel;
  format: 'json' | 'pretty';
  redactor: SecretRedactor;
  stream?: NodeJS.WritableStream;
}): Logger {
  const redact = winston.format((info) => {
    for (const key of Object.keys(info)) {
      const value = info[key];
      if (typeof value === 'string') info[key] = options.redactor.redact(value);
      else if (value !== null && typeof value === 'object') info[key] = JSON.parse(options.redactor.redact(JSON.stringify(value))) as unknown;
    }
    return info;
  });
  const stream = options.stream ?? process.stdout;
  const transport = new winston.transports.Stream({ stream });
  const logger = winston.createLogger({
    level: options.level,
    format: winston.format.combine(
      winston.format.timestamp(),
      redact(),
      options.format === 'json'
        ? winston.format.json()
        : winston.format.combine(
            winston.format.colorize(),
            winston.format.printf(({ timestamp, level, message, ...fields }) => {
              const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
              return `${String(timestamp)} ${level} ${String(message)}${rest}`;
            }),
          ),
    ),
    transports: [transport],
  });
  // winston formats a line (timestamp, redaction, JSON) before its transport drops it for its level:
  // checking the level first keeps disabled per-cycle lines off the hot path.
  const at =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (logger.isLevelEnabled(level)) logger.log(level, message, fields);
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    flush: () =>
      new Promise((resolve) => {
        if (stream === process.stdout || stream === process.stderr) {
          stream.write('', () => resolve());
        } else resolve();
      }),
  };
}
