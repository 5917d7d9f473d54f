import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { StandaloneConnector } from 'ioredis/built/connectors/index.js';
import type { TargetConfig } from '../config/types.ts';
import type { RedisAuth } from '../credentials/credential.ts';

/** Where and how to connect: the part of a target every connection of ours needs. */
export type Endpoint = Pick<TargetConfig, 'host' | 'port' | 'timeoutMs' | 'tls'>;

/**
 * ioredis's options as its constructors accept them under exactOptionalPropertyTypes: ioredis 6 declares
 * RedisOptions.replyMapping as possibly undefined, which the constructors' own `replyMapping?` refuses.
 * Nothing here sets it.
 */
export type ConnectionOptions = Omit<RedisOptions, 'replyMapping'>;

/** Seam for tests that need to observe or wrap connections. */
export type ConnectionFactory = (options: ConnectionOptions) => Redis;

/**
 * Options for every connection redis-probe opens. ioredis 6 defaults to RESP3 via HELLO, sent before our
 * AUTH; RESP2 works on every Redis and Azure tier. Reconnection, retries and authentication are ours, so
 * each is timed and bounded by our own timeouts.
 */
export function connectionOptions(endpoint: Endpoint): ConnectionOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    lazyConnect: true,
    protocol: 2,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: endpoint.timeoutMs,
    ...(endpoint.tls.enabled ? { tls: tlsOptions(endpoint) } : {}),
  };
}

/** The TLS server name to send and verify: the configured one, else the host when it is a name (an IP cannot be an SNI name). */
export function tlsServername(endpoint: Pick<Endpoint, 'host' | 'tls'>): string | undefined {
  return endpoint.tls.servername ?? (isIP(endpoint.host) ? undefined : endpoint.host);
}

/** TLS settings of every connection of ours. */
export function tlsOptions(endpoint: Pick<Endpoint, 'host' | 'tls'>): NonNullable<RedisOptions['tls']> {
  const { tls } = endpoint;
  const servername = tlsServername(endpoint);
  return {
    rejectUnauthorized: tls.verify,
    ...(servername !== undefined ? { servername } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
  };
}

/** A not yet connected connection whose failures report their real cause. */
export interface OpenedConnection {
  readonly redis: Redis;
  /** Connects; rejects with what actually went wrong (ECONNREFUSED, a TLS error...). */
  connect(): Promise<void>;
  /**
   * ioredis fails commands on a dead stream with "Connection is closed." or "Stream isn't writeable";
   * this swaps such an error for the 'error' event that killed the stream, and leaves reply errors alone.
   */
  rootCause(error: unknown): unknown;
}

/**
 * Sees the socket under a connection the moment ioredis creates it, before any I/O, so its `lookup`,
 * `connect` and `secureConnect` events time DNS, TCP and TLS apart (`doctor`). The socket is ioredis's:
 * an observer listens and reads, never writes or closes.
 */
export type SocketObserver = (socket: Socket) => void;

/** ioredis's own connector, reporting each socket it opens to `observer`. */
function observedConnector(observer: SocketObserver): NonNullable<RedisOptions['Connector']> {
  return class ObservedConnector extends StandaloneConnector {
    // ioredis constructs a Connector with the Redis options it was given: ours, so standalone options.
    constructor(options: unknown) {
      super(options as ConstructorParameters<typeof StandaloneConnector>[0]);
    }

    override async connect(...args: Parameters<StandaloneConnector['connect']>): ReturnType<StandaloneConnector['connect']> {
      const stream = await super.connect(...args);
      observer(stream);
      return stream;
    }
  };
}

export function openConnection(endpoint: Endpoint, factory: ConnectionFactory = (options) => new Redis(options), observer?: SocketObserver): OpenedConnection {
  const options = connectionOptions(endpoint);
  const redis = factory(observer ? { ...options, Connector: observedConnector(observer) } : options);
  let lastError: unknown;
  // Also keeps ioredis from printing unhandled 'error' events.
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  const rootCause = (error: unknown): unknown => (isReplyError(error) ? error : (lastError ?? error));
  return {
    redis,
    rootCause,
    connect: () =>
      redis.connect().catch((error: unknown) => {
        throw rootCause(error);
      }),
  };
}

/**
 * Session setup in one round trip: AUTH (with a credential), CLIENT SETNAME (best effort), and SELECT when
 * `db` is not 0 (Azure Managed Redis refuses SELECT). Throws the AUTH or SELECT error.
 */
export async function setUpSession(redis: Redis, session: { readonly auth?: RedisAuth; readonly name: string; readonly db?: number }): Promise<void> {
  const { auth, db = 0 } = session;
  const pipeline = redis.pipeline();
  if (auth?.username !== undefined) pipeline.auth(auth.username, auth.password);
  else if (auth) pipeline.auth(auth.password);
  pipeline.client('SETNAME', session.name);
  if (db !== 0) pipeline.select(db);
  const replies = (await pipeline.exec()) ?? [];
  const authError = auth ? replies[0]?.[0] : null;
  if (authError) throw authError;
  const nameIndex = auth ? 1 : 0;
  const selectError = db !== 0 ? replies[nameIndex + 1]?.[0] : null;
  if (selectError) throw selectError;
  // Only a refusal of SETNAME (a principal without CLIENT permission) is tolerated; a garbled reply or a
  // dropped connection fails the session.
  const nameError = replies[nameIndex]?.[0];
  if (nameError && !isReplyError(nameError)) throw nameError;
}

/** AUTH alone, for re-sending a rotated secret on a live connection. */
export function sendAuth(redis: Redis, auth: RedisAuth): Promise<unknown> {
  return auth.username === undefined ? redis.auth(auth.password) : redis.auth(auth.username, auth.password);
}

/** ioredis reply errors carry the server's text and leave the connection usable. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** The server does not know the command or subcommand (older Redis, or one a managed service left out). */
export function isUnknownCommand(error: unknown): boolean {
  return isReplyError(error) && /^ERR unknown (sub)?command/i.test((error as Error).message);
}
