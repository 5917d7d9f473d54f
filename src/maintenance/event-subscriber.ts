import type { Redis } from 'ioredis';
import { backoffDelayMs, validateBackoff } from '../shared/backoff.ts';
import type { BackoffPolicy } from '../shared/backoff.ts';
import type { Clock, TimerHandle } from '../shared/clock.ts';
import type { TargetConfig } from '../config/types.ts';
import type { Credential } from '../credentials/credential.ts';
import { openConnection, setUpSession } from '../probe/redis-connection.ts';
import type { ConnectionFactory } from '../probe/redis-connection.ts';
import { withTimeout } from '../shared/timeout.ts';
import { MAINTENANCE_CHANNEL } from './parse-event.ts';

/** Why a subscription was (re)established. */
export type SubscribeReason = 'start' | 'reconnect' | 'credential_change';

/** What the subscriber reports; it never logs or counts anything itself. */
export interface EventSubscriberObserver {
  /** A message on the maintenance channel, delivered once even while two connections overlap. */
  onMessage(message: string): void;
  onSubscribed(reason: SubscribeReason): void;
  /** The subscribed connection closed; the next attempt follows in `retryInMs`. */
  onDisconnected(retryInMs: number): void;
  /** Connecting, authenticating or subscribing failed; the next attempt follows in `retryInMs`. */
  onAttemptFailed(reason: SubscribeReason, error: unknown, retryInMs: number): void;
}

/** A long-lived subscription to the maintenance channel that survives disconnects and secret rotation. */
export interface EventSubscriber {
  start(): void;
  /** Closes every connection; no further callbacks. */
  close(): void;
  readonly subscribed: boolean;
}

/** What the subscriber needs from its surroundings. */
export interface EventSubscriberDeps {
  readonly clock: Clock;
  readonly credential?: Credential;
  /** CLIENT SETNAME value, so operators can tell this connection from the probe's. */
  readonly connectionName: string;
  /** First retry delay; doubled per failed attempt up to `maxDelayMs`, each ±20 %. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Uniform in [0, 1): spreads the retries of many replicas that lost the same server at once. */
  readonly random: () => number;
  /** Seam for tests that need to observe connections. */
  readonly createConnection?: ConnectionFactory;
}

export const DEFAULT_SUBSCRIBER_INITIAL_DELAY_MS = 1_000;
export const DEFAULT_SUBSCRIBER_MAX_DELAY_MS = 60_000;
/** The share of each retry delay left to chance, as the token manager's retries. */
const RETRY_JITTER = 0.2;

/**
 * Subscribes to AzureRedisEvents on a connection of its own (a subscribed RESP2 connection accepts no
 * other commands). Authentication happens once, at connect: ioredis cannot re-AUTH a subscriber, so
 * when the credential rotates (Entra tokens expire) a new connection is opened with the new secret and
 * subscribed, and only then is the old one closed. Lost connections are re-established with
 * jittered exponential backoff; the delay also applies after a subscription that drops at once, so a flapping
 * server cannot cause a tight reconnect loop.
 */
export function createEventSubscriber(target: TargetConfig, deps: EventSubscriberDeps, observer: EventSubscriberObserver): EventSubscriber {
  const { clock, credential } = deps;
  const initialDelayMs = deps.initialDelayMs ?? DEFAULT_SUBSCRIBER_INITIAL_DELAY_MS;
  const backoff: BackoffPolicy = {
    initialMs: initialDelayMs,
    maxMs: Math.max(initialDelayMs, deps.maxDelayMs ?? DEFAULT_SUBSCRIBER_MAX_DELAY_MS),
    multiplier: 2,
    jitter: RETRY_JITTER,
  };
  validateBackoff(backoff);
  let active: Redis | undefined;
  /** The connection of the attempt in flight, so close() can abort it. */
  let opening: Redis | undefined;
  let attemptInFlight = false;
  /** The secret changed while an attempt was in flight with the old one. */
  let secretChangedDuringAttempt = false;
  let retryTimer: TimerHandle | undefined;
  let failures = 0;
  let started = false;
  let closed = false;
  let unsubscribeCredential: (() => void) | undefined;

  const nextDelayMs = (): number => backoffDelayMs(++failures, backoff, deps.random);

  const scheduleAttempt = (reason: SubscribeReason, delayMs: number): void => {
    if (closed || retryTimer) return;
    retryTimer = clock.setTimeout(() => {
      retryTimer = undefined;
      void attempt(reason);
    }, delayMs);
    retryTimer.unref?.();
  };

  const discard = (connection: Redis): void => {
    connection.removeAllListeners('close');
    connection.removeAllListeners('message');
    connection.disconnect();
  };

  const onClosed = (connection: Redis): void => {
    if (connection !== active || closed) return;
    active = undefined;
    const retryInMs = nextDelayMs();
    observer.onDisconnected(retryInMs);
    scheduleAttempt('reconnect', retryInMs);
  };

  const attempt = async (reason: SubscribeReason): Promise<void> => {
    if (closed || attemptInFlight) return;
    attemptInFlight = true;
    secretChangedDuringAttempt = false;
    let connection: Redis | undefined;
    try {
      // Read first: with no usable secret yet (no token), there is nothing to connect with.
      const auth = credential?.current();
      const opened = openConnection(target, deps.createConnection);
      const created = opened.redis;
      connection = created;
      opening = created;
      created.on('message', (channel: string, message: string) => {
        // During a recycle both connections are subscribed for a moment: only the active one speaks.
        if (created === active && channel === MAINTENANCE_CHANNEL) observer.onMessage(message);
      });
      await withTimeout(opened.connect(), target.timeoutMs, clock, 'connect');
      await withTimeout(setUpSession(created, { ...(auth ? { auth } : {}), name: deps.connectionName }), target.timeoutMs, clock, 'auth');
      await withTimeout(created.subscribe(MAINTENANCE_CHANNEL), target.timeoutMs, clock, 'subscribe');
    } catch (error) {
      attemptInFlight = false;
      opening = undefined;
      if (connection) discard(connection);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the awaits
      if (closed) return;
      const retryInMs = nextDelayMs();
      observer.onAttemptFailed(reason, error, retryInMs);
      scheduleAttempt(reason, retryInMs);
      return;
    }
    attemptInFlight = false;
    opening = undefined;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the awaits
    if (closed) {
      discard(connection);
      return;
    }
    failures = 0;
    // A retry scheduled while this attempt was in flight (the old connection dropped meanwhile) is moot now.
    if (retryTimer) clock.clearTimeout(retryTimer);
    retryTimer = undefined;
    const previous = active;
    active = connection;
    const subscribedConnection = connection;
    subscribedConnection.once('close', () => onClosed(subscribedConnection));
    // The new subscription is in place before the old one goes, so no notification falls in a gap.
    if (previous) discard(previous);
    observer.onSubscribed(reason);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the credential's onChange sets it during the awaits
    if (secretChangedDuringAttempt) void attempt('credential_change');
  };

  return {
    get subscribed() {
      return active !== undefined;
    },
    start() {
      if (started || closed) return;
      started = true;
      unsubscribeCredential = credential?.onChange(() => {
        if (closed) return;
        if (attemptInFlight) secretChangedDuringAttempt = true;
        // A pending retry reads the new secret anyway; otherwise recycle now.
        else if (!retryTimer) void attempt('credential_change');
      });
      void attempt('start');
    },
    close() {
      closed = true;
      unsubscribeCredential?.();
      if (retryTimer) clock.clearTimeout(retryTimer);
      retryTimer = undefined;
      for (const connection of [active, opening]) if (connection) discard(connection);
      active = undefined;
      opening = undefined;
    },
  };
}
