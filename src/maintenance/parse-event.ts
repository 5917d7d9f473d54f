/**
 * Azure Cache for Redis announces planned maintenance on the `AzureRedisEvents` pub/sub channel as
 * pipe-delimited key/value pairs, e.g.
 * `NotificationType|NodeMaintenanceStarting|StartTimeInUTC|2021-03-02T23:26:57|IsReplica|False|IPAddress||SSLPort|15001|NonSSLPort|13001`.
 * This module turns one such message into data. It is pure and lenient: unknown keys are skipped and
 * empty values allowed, because Azure has added keys and types over time and must not break the probe.
 */

/** The channel Azure publishes maintenance notifications on. */
export const MAINTENANCE_CHANNEL = 'AzureRedisEvents';

/** The notification types Azure documents, each with the `event` label value it is counted under. */
const KNOWN_TYPES = {
  NodeMaintenanceScheduled: 'scheduled',
  NodeMaintenanceStarting: 'starting',
  NodeMaintenanceStart: 'start',
  // The legacy name of NodeMaintenanceFailoverComplete: older caches still send it.
  NodeMaintenanceFailover: 'failover_complete',
  NodeMaintenanceFailoverComplete: 'failover_complete',
  NodeMaintenanceScaleComplete: 'scale_complete',
  NodeMaintenanceEnded: 'ended',
} as const;

/** A known notification type, normalised (the legacy failover name folds into `failover_complete`). */
export type MaintenanceEventType = (typeof KNOWN_TYPES)[keyof typeof KNOWN_TYPES];

/** Every value the `event` label can take: the known types, `unknown` and `malformed`. */
export const MAINTENANCE_EVENT_LABELS = ['scheduled', 'starting', 'start', 'failover_complete', 'scale_complete', 'ended', 'unknown', 'malformed'] as const;
export type MaintenanceEventLabel = (typeof MAINTENANCE_EVENT_LABELS)[number];

/** A message that names a notification type; the other fields are present only when given and valid. */
export interface MaintenanceEvent {
  readonly kind: 'event';
  /** The normalised type, or `unknown` for a type this version does not know. */
  readonly type: MaintenanceEventType | 'unknown';
  /** NotificationType exactly as sent (bounded in length), for logs. */
  readonly notificationType: string;
  /** StartTimeInUTC as epoch ms; Azure sends it without a zone, and it is UTC. */
  readonly startTimeMs?: number;
  /** Whether the node under maintenance is a replica (IsReplica). */
  readonly isReplica?: boolean;
  /** The node's address (IPAddress); often empty. */
  readonly ipAddress?: string;
  readonly sslPort?: number;
  readonly nonSslPort?: number;
}

/** A message that cannot be read as a notification: no NotificationType, or not key/value text at all. */
export interface MalformedMaintenanceMessage {
  readonly kind: 'malformed';
  /** Why, in words, for the log line. */
  readonly reason: string;
}

export type ParsedMaintenanceMessage = MaintenanceEvent | MalformedMaintenanceMessage;

/** Longer text is cut before it reaches a log line: the channel is writable by anyone who can PUBLISH. */
const MAX_FIELD_CHARS = 100;

/** Parses one AzureRedisEvents message. Never throws. */
export function parseMaintenanceEvent(message: string): ParsedMaintenanceMessage {
  if (message.trim() === '') return { kind: 'malformed', reason: 'empty message' };
  if (!message.includes('|')) return { kind: 'malformed', reason: 'not a pipe-delimited list of key/value pairs' };
  const parts = message.split('|');
  const fields = new Map<string, string>();
  // Pairs: key at even positions. A trailing key without a value reads as an empty value.
  for (let index = 0; index < parts.length; index += 2) {
    const key = (parts[index] ?? '').trim().toLowerCase();
    const value = (parts[index + 1] ?? '').trim();
    // The first occurrence wins, so a repeated key cannot override what was already read.
    if (key !== '' && !fields.has(key)) fields.set(key, value);
  }
  const notificationType = fields.get('notificationtype');
  if (notificationType === undefined) return { kind: 'malformed', reason: 'no NotificationType key' };
  if (notificationType === '') return { kind: 'malformed', reason: 'empty NotificationType' };

  const startTimeMs = parseUtcTimestamp(fields.get('starttimeinutc'));
  const isReplica = parseBoolean(fields.get('isreplica'));
  const ipAddress = fields.get('ipaddress');
  const sslPort = parsePort(fields.get('sslport'));
  const nonSslPort = parsePort(fields.get('nonsslport'));
  return {
    kind: 'event',
    type: knownType(notificationType) ?? 'unknown',
    notificationType: notificationType.slice(0, MAX_FIELD_CHARS),
    ...(startTimeMs !== undefined ? { startTimeMs } : {}),
    ...(isReplica !== undefined ? { isReplica } : {}),
    ...(ipAddress ? { ipAddress: ipAddress.slice(0, MAX_FIELD_CHARS) } : {}),
    ...(sslPort !== undefined ? { sslPort } : {}),
    ...(nonSslPort !== undefined ? { nonSslPort } : {}),
  };
}

/** The `event` label value a parsed message is counted under. */
export function eventLabel(parsed: ParsedMaintenanceMessage): MaintenanceEventLabel {
  return parsed.kind === 'malformed' ? 'malformed' : parsed.type;
}

/**
 * What a notification means for "maintenance in progress": Starting, Start and FailoverComplete begin
 * (or continue) it, Ended ends it; Scheduled only announces it, ScaleComplete reports a finished scaling.
 */
export function maintenanceEffect(type: MaintenanceEventType | 'unknown'): 'begin' | 'end' | 'none' {
  switch (type) {
    case 'starting':
    case 'start':
    case 'failover_complete':
      return 'begin';
    case 'ended':
      return 'end';
    case 'scheduled':
    case 'scale_complete':
    case 'unknown':
      return 'none';
  }
}

function knownType(name: string): MaintenanceEventType | undefined {
  // Case-insensitive: the documented spelling is PascalCase, but nothing is lost by accepting others.
  const lower = name.toLowerCase();
  for (const [known, label] of Object.entries(KNOWN_TYPES)) if (known.toLowerCase() === lower) return label;
  return undefined;
}

/** `2021-03-02T23:26:57` (no zone: UTC), optionally with fractions or an explicit zone. */
function parseUtcTimestamp(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?)(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  if (!match) return undefined;
  const [, date = '', time = '', zone] = match;
  // JavaScript dates take at most milliseconds; .NET sends up to seven fraction digits.
  const clock = time.replace(/(\.\d{3})\d+$/, '$1');
  const parsed = Date.parse(`${date}T${clock}${zone ? zone.toUpperCase() : 'Z'}`);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function parseBoolean(text: string | undefined): boolean | undefined {
  const lower = text?.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

function parsePort(text: string | undefined): number | undefined {
  if (!text || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}
