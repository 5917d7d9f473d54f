import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/**
 * How the proxy treats traffic. Modes are consulted per chunk, so switching mode affects
 * connections that are already open (except `close-on-connect`, which acts on accept).
 */
export type FaultMode =
  /** Forward both ways untouched (and flush anything held back by `stall`). */
  | 'pass'
  /** Delay every chunk in both directions by `latencyMs`, preserving order. */
  | { readonly latencyMs: number }
  /** Accept connections, forward nothing either way (held data flows again on `pass`). */
  | 'stall'
  /** Forward requests; when the first reply bytes arrive, RST the client socket. */
  | 'reset-mid-reply'
  /** Accept, then end (FIN) immediately. */
  | 'close-on-connect'
  /** Answer every request with bytes that are not RESP and keep the connection open. */
  | 'garbage'
  /** Stop listening so connects are refused; `pass` re-listens on the same port. */
  | 'refuse';

/** A TCP proxy on 127.0.0.1 that injects network faults between a client and a real upstream. */
export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  readonly upstream: { readonly host: string; readonly port: number };
  mode(): FaultMode;
  /** Resolves once the mode is in force (re-listening after `refuse` is asynchronous). */
  setMode(mode: FaultMode): Promise<void>;
  /** RST every open client connection (and drop its upstream). */
  resetAll(): void;
  /** Client connections currently open. */
  connectionCount(): number;
  /** Connections accepted since start, including closed ones. */
  acceptedCount(): number;
  /** Stops listening and destroys every socket and timer. Idempotent, never throws. */
  close(): Promise<void>;
}

export const GARBAGE_REPLY = Buffer.from('@@@garbage\r\n');

const PROXY_HOST = '127.0.0.1';

/** One direction of a connection: queues chunks and releases them as the current mode allows. */
interface Pipe {
  readonly queue: { chunk: Buffer; dueMs: number }[];
  timer: NodeJS.Timeout | undefined;
}

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly toUpstream: Pipe;
  readonly toClient: Pipe;
  /** Upstream closed cleanly while replies were still held: end the client once they are delivered. */
  upstreamGone: boolean;
  closed: boolean;
}

function isLatency(mode: FaultMode): mode is { readonly latencyMs: number } {
  return typeof mode === 'object';
}

/** Starts a fault proxy in `pass` mode in front of `upstream`. */
export async function startFaultProxy(upstream: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  let server: Server | undefined;
  let port = 0;
  let closed = false;
  let accepted = 0;
  const connections = new Set<Connection>();
  // Sockets not (or not yet) part of a Connection, e.g. close-on-connect ones: close() must reach them too.
  const strays = new Set<Socket>();

  function destroyConnection(conn: Connection, reset: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    connections.delete(conn);
    for (const pipe of [conn.toUpstream, conn.toClient]) {
      if (pipe.timer) clearTimeout(pipe.timer);
      pipe.timer = undefined;
      pipe.queue.length = 0;
    }
    if (reset && !conn.client.destroyed) conn.client.resetAndDestroy();
    else conn.client.destroy();
    conn.upstream.destroy();
  }

  function pump(conn: Connection, pipe: Pipe, target: Socket): void {
    if (conn.closed) return;
    const current = mode;
    if (pipe.timer) {
      // A pending latency timer is still right under latency mode; otherwise release now.
      if (isLatency(current)) return;
      clearTimeout(pipe.timer);
      pipe.timer = undefined;
    }
    if (current === 'stall') return;
    const now = performance.now();
    while (pipe.queue.length > 0) {
      const head = pipe.queue[0]!;
      if (isLatency(current) && head.dueMs > now) {
        pipe.timer = setTimeout(() => {
          pipe.timer = undefined;
          pump(conn, pipe, target);
        }, head.dueMs - now);
        return;
      }
      pipe.queue.shift();
      if (!target.destroyed) target.write(head.chunk);
    }
    if (pipe === conn.toClient && conn.upstreamGone) destroyConnection(conn, false);
  }

  function onChunk(conn: Connection, direction: 'toUpstream' | 'toClient', chunk: Buffer): void {
    if (conn.closed) return;
    const current = mode;
    if (current === 'garbage') {
      // The request is swallowed; the client gets something no RESP parser accepts.
      if (direction === 'toUpstream' && !conn.client.destroyed) conn.client.write(GARBAGE_REPLY);
      return;
    }
    if (current === 'reset-mid-reply' && direction === 'toClient') {
      destroyConnection(conn, true);
      return;
    }
    const pipe = conn[direction];
    const delayMs = isLatency(current) ? current.latencyMs : 0;
    // Order is preserved even if the latency shrinks: a chunk is never due before its predecessor.
    const previousDue = pipe.queue.at(-1)?.dueMs ?? 0;
    pipe.queue.push({ chunk, dueMs: Math.max(performance.now() + delayMs, previousDue) });
    pump(conn, pipe, direction === 'toUpstream' ? conn.upstream : conn.client);
  }

  function onAccept(client: Socket): void {
    accepted += 1;
    client.on('error', () => undefined);
    if (closed) {
      client.destroy();
      return;
    }
    if (mode === 'close-on-connect') {
      strays.add(client);
      client.on('close', () => strays.delete(client));
      // Drain whatever the client sends so its FIN reaches us and the socket fully closes.
      client.resume();
      client.end();
      // end() only half-closes; make sure the socket goes away even if the peer never answers the FIN.
      client.setTimeout(1000, () => client.destroy());
      return;
    }
    client.setNoDelay(true);
    const upstreamSocket = createConnection({ host: upstream.host, port: upstream.port });
    upstreamSocket.setNoDelay(true);
    upstreamSocket.on('error', () => undefined);
    const conn: Connection = {
      client,
      upstream: upstreamSocket,
      toUpstream: { queue: [], timer: undefined },
      toClient: { queue: [], timer: undefined },
      upstreamGone: false,
      closed: false,
    };
    connections.add(conn);
    client.on('data', (chunk: Buffer) => onChunk(conn, 'toUpstream', chunk));
    upstreamSocket.on('data', (chunk: Buffer) => onChunk(conn, 'toClient', chunk));
    // Either side going away takes the other with it, as a real network path would.
    client.on('close', () => destroyConnection(conn, false));
    upstreamSocket.on('close', (hadError: boolean) => {
      if (hadError || conn.toClient.queue.length === 0) {
        destroyConnection(conn, false);
      } else {
        // e.g. the +OK to QUIT is still delayed by latency: deliver it, then close.
        conn.upstreamGone = true;
      }
    });
  }

  function listen(onPort: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const next = createServer(onAccept);
      next.on('error', () => undefined);
      next.once('error', reject);
      next.listen({ host: PROXY_HOST, port: onPort }, () => {
        next.off('error', reject);
        server = next;
        const address = next.address();
        if (address !== null && typeof address === 'object') port = address.port;
        resolve();
      });
    });
  }

  async function listenWithRetry(onPort: number): Promise<void> {
    // Re-binding the same port right after close can transiently fail; a few quick retries cover it.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await listen(onPort);
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  /** Stops accepting at once; the promise settles when the server's own connections are gone too. */
  function stopListening(): Promise<void> {
    const current = server;
    server = undefined;
    if (!current) return Promise.resolve();
    return new Promise((resolve) => current.close(() => resolve()));
  }

  await listenWithRetry(0);

  return {
    host: PROXY_HOST,
    get port() {
      return port;
    },
    upstream: { host: upstream.host, port: upstream.port },
    mode: () => mode,
    async setMode(next) {
      if (closed) return;
      mode = next;
      if (next === 'refuse') {
        // Not awaited: connections already open stay up (use resetAll() to drop them too).
        void stopListening();
      } else if (!server) {
        await listenWithRetry(port);
      }
      // Data held back by `stall`/latency flows under the new mode.
      for (const conn of [...connections]) {
        if (next === 'reset-mid-reply' && conn.toClient.queue.length > 0) {
          // Reply bytes held back by stall/latency count as "arriving" now.
          destroyConnection(conn, true);
          continue;
        }
        pump(conn, conn.toUpstream, conn.upstream);
        pump(conn, conn.toClient, conn.client);
      }
    },
    resetAll() {
      for (const conn of [...connections]) destroyConnection(conn, true);
    },
    connectionCount: () => connections.size,
    acceptedCount: () => accepted,
    async close() {
      if (closed) return;
      closed = true;
      const stopped = stopListening();
      for (const conn of [...connections]) destroyConnection(conn, false);
      for (const socket of strays) socket.destroy();
      strays.clear();
      await stopped;
    },
  };
}
