import winston from 'winston';
import type { LogLevel } from './config/types.ts';
import type { SecretRedactor } from './secrets.ts';

/** The logger every module receives; winston's own type is not leaked. */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Whether a line at `level` is written: a caller can skip building fields that would be dropped. */
  isEnabled(level: LogLevel): boolean;
  /** Waits until buffered lines are written (before exit). */
  flush(): Promise<void>;
}

/** JSON lines (or coloured text with `pretty`) with every known secret scrubbed from every line. */
export function createLogger(options: {
  level: LogLevel;
  format: 'json' | 'pretty';
  redactor: SecretRedactor;
  stream?: NodeJS.WritableStream;
  /** Fields on every line (the service's name and version). */
  defaultMeta?: Readonly<Record<string, string>>;
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
    ...(options.defaultMeta ? { defaultMeta: { ...options.defaultMeta } } : {}),
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
  // winston formats a line (timestamp, redaction, JSON) before its transport drops it for its level, so a
  // disabled level gets a method that does nothing. The level is fixed for the logger's life (changing
  // `log` needs a restart), so this is decided once rather than asked of winston on every line.
  const enabled: Readonly<Record<LogLevel, boolean>> = {
    error: logger.isLevelEnabled('error'),
    warn: logger.isLevelEnabled('warn'),
    info: logger.isLevelEnabled('info'),
    debug: logger.isLevelEnabled('debug'),
  };
  const isEnabled = (level: LogLevel): boolean => enabled[level];
  const at = (level: LogLevel): ((message: string, fields?: Record<string, unknown>) => void) =>
    enabled[level] ? (message, fields) => void logger.log(level, message, fields) : () => undefined;
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    isEnabled,
    flush: () =>
      new Promise((resolve) => {
        if (stream === process.stdout || stream === process.stderr) {
          stream.write('', () => resolve());
        } else resolve();
      }),
  };
}
