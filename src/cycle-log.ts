import type { Logger } from './logging.ts';
import type { CycleResult } from './probe-result.ts';
import type { StatusChange } from './status-board.ts';

/** Step durations as `{ping: 0.21, ...}` milliseconds, rounded for reading. */
export function stepMillis(result: CycleResult): Record<string, number> {
  return Object.fromEntries(result.steps.map((timing) => [timing.step, roundMs(timing.durationMs)]));
}

/** Milliseconds to three decimals (microsecond resolution), for logs and pages. */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

/** One line per cycle (info, or warn on failure) and a distinct line when a target changes state. */
export function logCycle(logger: Logger, result: CycleResult, change: StatusChange): void {
  const { changedFrom } = change;
  for (const step of change.newlyUnsupported) {
    logger.warn('step refused by the server: reported as unsupported, not as a failure', {
      target: result.target,
      step,
      hint: 'the user lacks the permission (e.g. CLIENT is in @dangerous, which Azure Data Contributor excludes)',
    });
  }
  // The cycle line is built only when its level is written: at 100 cycles a second it is most of this work.
  if (logger.isEnabled(result.failure ? 'warn' : 'info')) {
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
      logger.info('probe cycle succeeded', fields);
    }
  }
  if (changedFrom === 'up' && !result.success) {
    logger.warn('target is down', { target: result.target, step: result.failure?.step, reason: result.failure?.reason });
  } else if (changedFrom !== undefined && changedFrom !== 'up' && result.success) {
    logger.info('target is up', { target: result.target, previously: changedFrom });
  } else if (changedFrom === 'unknown' && !result.success) {
    logger.warn('target is down', { target: result.target, step: result.failure?.step, reason: result.failure?.reason });
  }
}
