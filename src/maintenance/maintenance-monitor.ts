import type { Clock } from '../shared/clock.ts';
import type { TargetConfig } from '../config/types.ts';
import type { Credential } from '../credentials/credential.ts';
import type { Logger } from '../logging/logger.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { createEventSubscriber } from './event-subscriber.ts';
import type { EventSubscriber, EventSubscriberDeps } from './event-subscriber.ts';
import { createMaintenanceTracker } from './maintenance-tracker.ts';
import { eventLabel, MAINTENANCE_CHANNEL, parseMaintenanceEvent } from './parse-event.ts';
import type { MaintenanceEventLabel } from './parse-event.ts';
import { describeError } from '../shared/error-text.ts';

/** Where a target's maintenance notifications are counted (the metrics adapter implements it). */
export interface MaintenanceSink {
  recordEvent(event: MaintenanceEventLabel): void;
  setInProgress(inProgress: boolean): void;
}

/** One target's maintenance watch: subscriber → parser → tracker → metrics and logs. */
export interface MaintenanceMonitor {
  start(): void;
  close(): void;
  readonly inProgress: boolean;
}

/** What a monitor needs; the subscriber seams pass through for tests. */
export interface MaintenanceMonitorDeps extends Pick<EventSubscriberDeps, 'initialDelayMs' | 'maxDelayMs' | 'random' | 'createConnection'> {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  readonly credential?: Credential;
  readonly instanceId: string;
  readonly sink: MaintenanceSink;
  /** How long "in progress" lasts without NodeMaintenanceEnded. */
  readonly safetyTimeoutMs?: number;
}

/** Raw text is bounded before it is logged: anyone allowed to PUBLISH can write to the channel. */
const MAX_LOGGED_MESSAGE_CHARS = 300;

export function createMaintenanceMonitor(target: TargetConfig, deps: MaintenanceMonitorDeps): MaintenanceMonitor {
  const { logger, sink } = deps;
  const base = { target: target.name, channel: MAINTENANCE_CHANNEL };
  sink.setInProgress(false);
  const tracker = createMaintenanceTracker({
    clock: deps.clock,
    ...(deps.safetyTimeoutMs !== undefined ? { safetyTimeoutMs: deps.safetyTimeoutMs } : {}),
    onChange: (inProgress, why) => {
      sink.setInProgress(inProgress);
      if (inProgress) logger.info('planned maintenance in progress', base);
      else if (why === 'event') logger.info('planned maintenance ended', base);
      else logger.warn('planned maintenance assumed over: no NodeMaintenanceEnded arrived in time', base);
    },
  });

  const onMessage = (message: string): void => {
    const parsed = parseMaintenanceEvent(message);
    sink.recordEvent(eventLabel(parsed));
    if (parsed.kind === 'malformed') {
      logger.warn('malformed maintenance notification ignored', { ...base, reason: parsed.reason, raw: excerpt(message) });
      return;
    }
    const fields = {
      ...base,
      event: parsed.type,
      notificationType: parsed.notificationType,
      ...(parsed.startTimeMs !== undefined ? { startTime: new Date(parsed.startTimeMs).toISOString() } : {}),
      ...(parsed.isReplica !== undefined ? { isReplica: parsed.isReplica } : {}),
      ...(parsed.ipAddress !== undefined ? { ipAddress: parsed.ipAddress } : {}),
      ...(parsed.sslPort !== undefined ? { sslPort: parsed.sslPort } : {}),
      ...(parsed.nonSslPort !== undefined ? { nonSslPort: parsed.nonSslPort } : {}),
    };
    if (parsed.type === 'unknown') logger.warn('unknown maintenance notification type', { ...fields, raw: excerpt(message) });
    else logger.info('maintenance notification', fields);
    tracker.record(parsed.type);
  };

  const subscriber: EventSubscriber = createEventSubscriber(
    target,
    {
      clock: deps.clock,
      ...(deps.credential ? { credential: deps.credential } : {}),
      connectionName: `redis-probe:${deps.instanceId}:${target.name}:events`,
      random: deps.random,
      ...(deps.initialDelayMs !== undefined ? { initialDelayMs: deps.initialDelayMs } : {}),
      ...(deps.maxDelayMs !== undefined ? { maxDelayMs: deps.maxDelayMs } : {}),
      ...(deps.createConnection ? { createConnection: deps.createConnection } : {}),
    },
    {
      onMessage,
      onSubscribed: (reason) => logger.info('subscribed to maintenance notifications', { ...base, reason }),
      onDisconnected: (retryInMs) => logger.warn('maintenance subscription lost; resubscribing', { ...base, retryInMs }),
      onAttemptFailed: (reason, error, retryInMs) =>
        logger.warn('maintenance subscription failed; retrying', { ...base, reason, retryInMs, error: deps.redactor.redact(describeError(error)) }),
    },
  );

  return {
    get inProgress() {
      return tracker.inProgress;
    },
    start: () => subscriber.start(),
    close() {
      subscriber.close();
      tracker.close();
    },
  };
}

function excerpt(text: string): string {
  return text.length > MAX_LOGGED_MESSAGE_CHARS ? `${text.slice(0, MAX_LOGGED_MESSAGE_CHARS)}…` : text;
}
