import type { LogLevel } from '../../src/config/types.ts';
import type { Logger } from '../../src/logging/logger.ts';

/** One call the code under test made on its logger. */
export interface LogEntry {
  readonly atMs: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A Logger at level debug that keeps every entry, so tests can read what was logged. */
export interface CapturingLogger extends Logger {
  readonly entries: LogEntry[];
}

export function capturingLogger(): CapturingLogger {
  const entries: LogEntry[] = [];
  const at =
    (level: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      entries.push({ atMs: performance.now(), level, message, fields });
    };
  return {
    entries,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    isEnabled: () => true,
    flush: () => Promise.resolve(),
  };
}
