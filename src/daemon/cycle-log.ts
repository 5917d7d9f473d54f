import type { Logger } from '../logging/logger.ts';
import { roundMs, stepMillis } from '../shared/probe-result.ts';
import type { CycleResult } from '../shared/probe-result.ts';
import type { StatusChange } from './status-board.ts';

/** Which cycles get a line at info or above (`log.cycles`); successful ones are always written at debug. */
export interface CycleLogOptions {
  readonly cycles: 'all' | 'failures';
}

/**
 * A line per failed cycle (warn), per state change (`target is down` / `target is up`) and per change of
 * a down target's reason. A successful cycle is written at info only with `cycles: all`, else at debug: at
 * 1,000 targets every 10 s an info line per cycle is 8.6 million lines a day, billed by the gigabyte.
 */
export function logCycle(logger: Logger, result: CycleResult, change: StatusChange, options: CycleLogOptions): void {
  const { changedFrom } = change;
  for (const step of change.newlyUnsupported) {
    logger.warn('step refused by the server: reported as unsupported, not as a failure', {
      target: result.target,
      step,
      hint: 'the user lacks the permission (e.g. CLIENT is in @dangerous, which Azure Data Contributor excludes)',
    });
  }
  const level = result.failure ? 'warn' : options.cycles === 'all' ? 'info' : 'debug';
  // The cycle line is built only when its level is written: at 100 cycles a second it is most of this work.
  if (logger.isEnabled(level)) {
    const fields = {
      target: result.target,
      ...(result.node !== undefined ? { node: result.node } : {}),
      trigger: result.trigger,
      outcome: result.success ? 'success' : 'failure',
      durationMs: roundMs(result.durationMs),
      steps: stepMillis(result),
      ...(result.unsupportedSteps.length > 0 ? { unsupportedSteps: result.unsupportedSteps } : {}),
    };
    if (result.failure) {
      const { step, reason, message } = result.failure;
      logger.warn('probe cycle failed', { ...fields, step, reason, error: message });
    } else {
      logger[level]('probe cycle succeeded', fields);
    }
  }
  if (changedFrom !== undefined) {
    if (result.success) logger.info('target is up', { target: result.target, previously: changedFrom });
    else logger.warn('target is down', { target: result.target, step: result.failure?.step, reason: result.failure?.reason });
  } else if (change.reasonChangedFrom !== undefined) {
    logger.warn('target failure reason changed', {
      target: result.target,
      step: result.failure?.step,
      reason: result.failure?.reason,
      previousReason: change.reasonChangedFrom,
    });
  }
}
