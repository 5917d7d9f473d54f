import type { Clock, TimerHandle } from '../shared/clock.ts';
import { maintenanceEffect } from './parse-event.ts';
import type { MaintenanceEventType } from './parse-event.ts';

/** Whether a target is in announced maintenance, from the notifications seen so far. */
export interface MaintenanceTracker {
  readonly inProgress: boolean;
  /** Feeds one notification; returns whether `inProgress` changed. */
  record(type: MaintenanceEventType | 'unknown'): boolean;
  close(): void;
}

/** An Ended that never arrives (lost while the subscriber was reconnecting) must not hide outages forever. */
export const DEFAULT_MAINTENANCE_SAFETY_TIMEOUT_MS = 30 * 60_000;

/**
 * In progress from Starting/Start/FailoverComplete until Ended, or until `safetyTimeoutMs` pass without
 * any further begin notification; each begin notification re-arms the timeout.
 */
export function createMaintenanceTracker(options: {
  clock: Clock;
  safetyTimeoutMs?: number;
  /** Called on every change; `why` is `timeout` when no Ended came in time. */
  onChange: (inProgress: boolean, why: 'event' | 'timeout') => void;
}): MaintenanceTracker {
  const { clock } = options;
  const safetyTimeoutMs = options.safetyTimeoutMs ?? DEFAULT_MAINTENANCE_SAFETY_TIMEOUT_MS;
  let inProgress = false;
  let timer: TimerHandle | undefined;

  const disarm = (): void => {
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
  };

  return {
    get inProgress() {
      return inProgress;
    },
    record(type) {
      const effect = maintenanceEffect(type);
      if (effect === 'none') return false;
      disarm();
      if (effect === 'begin') {
        timer = clock.setTimeout(() => {
          timer = undefined;
          inProgress = false;
          options.onChange(false, 'timeout');
        }, safetyTimeoutMs);
        timer.unref?.();
      }
      const next = effect === 'begin';
      if (next === inProgress) return false;
      inProgress = next;
      options.onChange(next, 'event');
      return true;
    },
    close: disarm,
  };
}
