import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { RedisServer } from './redis-server.ts';
import type { FakeTokenEndpoint } from './fake-token-endpoint.ts';

/**
 * Plays Azure's side of Entra authentication in front of a real redis-server: each issued token
 * becomes a password of the ACL user named by its oid (or `aliasUsers`) until it expires; then it
 * is removed, and connections still authenticated with it are closed, as Azure does. A TCP proxy
 * reads the AUTH commands going by to know which token each connection last used.
 */
export interface AzureAuthSimulator {
  readonly host: string;
  readonly port: number;
  /** Connections closed because their token expired. */
  expiredConnectionsClosed(): number;
  close(): Promise<void>;
}

const AUTH_COMMAND = /\*3\r\n\$4\r\nauth\r\n\$\d+\r\n([^\r]*)\r\n\$\d+\r\n([^\r]*)\r\n/gi;

export async function startAzureAuthSimulator(
  redis: RedisServer,
  endpoint: FakeTokenEndpoint,
  options: { rules?: string; aliasUsers?: readonly { name: string; rules: string }[] } = {},
): Promise<AzureAuthSimulator> {
  const rules = options.rules ?? '+@all ~* &*';
  const tokenOf = new Map<Socket, string>();
  const sockets = new Set<Socket>();
  const expiryTimers = new Set<NodeJS.Timeout>();
  let closedForExpiry = 0;
  let closing = false;

  endpoint.onTokenIssued(async (token, oid, expiresAtMs) => {
    const users = [...(oid !== '' ? [{ name: oid, rules }] : []), ...(options.aliasUsers ?? [])];
    for (const user of users) await redis.call('ACL', 'SETUSER', user.name, 'on', `>${token}`, ...user.rules.split(' '));
    const timer = setTimeout(
      () => {
        expiryTimers.delete(timer);
        if (closing) return;
        for (const user of users) void redis.call('ACL', 'SETUSER', user.name, `<${token}`).catch(() => undefined);
        for (const [socket, used] of tokenOf) {
          if (used === token) {
            closedForExpiry++;
            socket.destroy();
          }
        }
      },
      Math.max(0, expiresAtMs - Date.now()),
    );
    expiryTimers.add(timer);
  });

  const server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection({ host: redis.host, port: redis.port });
    client.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString('latin1').matchAll(AUTH_COMMAND)) tokenOf.set(client, match[2] ?? '');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      tokenOf.delete(client);
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    host: '127.0.0.1',
    port,
    expiredConnectionsClosed: () => closedForExpiry,
    async close() {
      closing = true;
      endpoint.onTokenIssued(undefined);
      for (const timer of expiryTimers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
