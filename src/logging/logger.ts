import winston from 'winston';
import type { LogLevel } from '../config/types.ts';
import { REDACTED } from '../shared/secrets.ts';
import type { SecretRedactor } from '../shared/secrets.ts';

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
      if (key !== 'level' && key !== 'timestamp') info[key] = toLogData(info[key], options.redactor);
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
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston declares its transports as interfaces
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
    enabled[level]
      ? (message, fields) => {
          // A log call never throws into its caller: a failure being logged must not become a second one.
          try {
            logger.log(level, message, fields);
          } catch {
            // Nothing better to do: the stream itself is gone.
          }
        }
      : () => undefined;
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

/** Depth beyond which a field is cut: deeper structures are not log data, and the walk stays bounded. */
const MAX_DEPTH = 10;

/** Commands whose arguments hold credentials (`AUTH [user] password`, `HELLO 3 AUTH user password`). */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello']);

/**
 * Plain, redacted data for a log field. Secrets are scrubbed from each string as it is (not from an escaped
 * serialisation of it, where a quote or a backslash would hide them). Errors become their name, message,
 * stack, own properties and cause chain; the arguments of a credential command on an ioredis error are
 * dropped whether or not the redactor knows them. Never throws.
 */
function toLogData(value: unknown, redactor: SecretRedactor, ancestors: object[] = []): unknown {
  switch (typeof value) {
    case 'string':
      return redactor.redact(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return redactor.redact(value.toString());
    case 'function':
      return `[function ${redactor.redact(value.name)}]`;
    case 'object':
      break; // null, errors, arrays, buffers and other objects: below
  }
  if (value === null) return null;
  const object = value;
  if (ancestors.includes(object)) return '[Circular]';
  if (ancestors.length >= MAX_DEPTH) return '[Nested too deep]';
  ancestors.push(object);
  try {
    const walk = (item: unknown): unknown => toLogData(item, redactor, ancestors);
    if (object instanceof Error) return errorData(object, walk);
    if (Array.isArray(object)) return object.map(walk);
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return `[${object.constructor.name} of ${object.byteLength} bytes]`;
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString();
    if (object instanceof Map) return [...object].map(walk);
    if (object instanceof Set) return [...object].map(walk);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(object));
    return propertiesOf(object, walk);
  } catch {
    return '[Unreadable]';
  } finally {
    ancestors.pop();
  }
}

/** Own enumerable properties, each walked on its own so that one throwing getter costs only itself. */
function propertiesOf(object: object, walk: (item: unknown) => unknown, skip: readonly string[] = []): Record<string, unknown> {
  // No prototype: a key named "__proto__" stays an ordinary key.
  const data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (skip.includes(key)) continue;
    let item: unknown;
    try {
      item = walk((object as Record<string, unknown>)[key]);
    } catch {
      item = '[Unreadable]';
    }
    data[walk(key) as string] = item;
  }
  return data;
}

function errorData(error: Error, walk: (item: unknown) => unknown): Record<string, unknown> {
  const data: Record<string, unknown> = { name: walk(error.name), message: walk(error.message) };
  if (typeof error.stack === 'string') data.stack = walk(error.stack);
  Object.assign(data, propertiesOf(error, walk, ['command']));
  const command = (error as { command?: unknown }).command;
  if (command !== undefined) data.command = commandData(command, walk);
  if ('cause' in error) data.cause = walk(error.cause);
  if (error instanceof AggregateError) data.errors = walk(error.errors);
  return data;
}

/** ioredis puts the failed command on its errors as `{ name, args }`. */
function commandData(command: unknown, walk: (item: unknown) => unknown): unknown {
  if (command === null || typeof command !== 'object') return walk(command);
  const { name, args } = command as { name?: unknown; args?: unknown };
  const credentialCommand = typeof name === 'string' && CREDENTIAL_COMMANDS.has(name.toLowerCase());
  return { name: walk(name), args: credentialCommand ? REDACTED : walk(args) };
}
