import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REDIS_HOST, startRedis } from './redis-server.ts';
import type { RedisServer } from './redis-server.ts';
import type { TlsCerts } from './tls-certs.ts';
import type { ConnectionOptions } from '../../src/probe/redis-connection.ts';
import { waitFor } from './wait.ts';

const execFileAsync = promisify(execFile);

export const CLUSTER_SLOTS = 16384;
// Redis aborts a manual failover after 5 s; wait a little longer before retrying.
const MANUAL_FAILOVER_WAIT_MS = 6000;

/** How to build a test cluster; defaults give 3 primaries with 1 replica each. */
export interface RedisClusterOptions {
  readonly primaries?: number;
  readonly replicasPerPrimary?: number;
  readonly tls?: TlsCerts;
  readonly password?: string;
  /** `cluster-node-timeout`; default 1500 so failure detection takes seconds, not the default 15. */
  readonly nodeTimeoutMs?: number;
  readonly startTimeoutMs?: number;
}

export type ClusterRole = 'primary' | 'replica';

/** One node of a test cluster; `role` reflects the last `refresh()`/`failover()`. */
export interface ClusterNode {
  readonly server: RedisServer;
  readonly host: string;
  readonly port: number;
  /** The 40-hex cluster node id. */
  readonly id: string;
  readonly role: ClusterRole;
  /** For replicas, the id of the primary they follow. */
  readonly primaryId: string | undefined;
}

/** A running cluster of real redis-server processes. */
export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  primaries(): ClusterNode[];
  replicas(): ClusterNode[];
  /** Re-reads roles from CLUSTER NODES (e.g. after killing a primary). */
  refresh(): Promise<void>;
  /** The primary currently serving `slot`, per CLUSTER SLOTS. */
  nodeOwningSlot(slot: number): Promise<ClusterNode>;
  /** CLUSTER FAILOVER on `replica`; resolves once it is a primary and the cluster is ok again. */
  failover(replica: ClusterNode): Promise<void>;
  /** Seeds for `new Cluster(startupNodes(), clusterOptions())`. */
  startupNodes(): { host: string; port: number }[];
  /** ioredis Cluster options reaching these nodes (password, TLS verified against the test CA). */
  clusterOptions(): { redisOptions: ConnectionOptions };
  /** Waits until every running node reports cluster_state:ok with all slots served. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface MutableNode {
  server: RedisServer;
  host: string;
  port: number;
  id: string;
  role: ClusterRole;
  primaryId: string | undefined;
}

// CRC16/XMODEM, the hash Redis Cluster uses for key slots.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i += 1) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The hash slot of `key`, honouring `{hash tags}` exactly as Redis does. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(bytes) % CLUSTER_SLOTS;
}

function parseInfo(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const sep = line.indexOf(':');
    if (sep > 0) map.set(line.slice(0, sep), line.slice(sep + 1).trim());
  }
  return map;
}

/** One line of CLUSTER NODES: `<id> <ip:port@bus> <flags> <primary-id|-> ...`. */
function parseClusterNodes(text: string): { id: string; port: number; flags: string[]; primaryId: string | undefined }[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', primary = '-'] = line.split(' ');
      const port = Number(address.split('@')[0]?.split(':').pop());
      return { id, port, flags: flags.split(','), primaryId: primary === '-' ? undefined : primary };
    });
}

/** Starts N primaries with M replicas each and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  const total = primaryCount * (1 + replicasPerPrimary);
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;

  const started = await Promise.allSettled(
    Array.from({ length: total }, () =>
      startRedis({
        cluster: { nodeTimeoutMs: options.nodeTimeoutMs ?? 1500 },
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }

  const nodes: MutableNode[] = servers.map((server) => ({
    server,
    host: REDIS_HOST,
    port: server.port,
    id: '',
    role: 'primary',
    primaryId: undefined,
  }));

  async function runningNodes(): Promise<MutableNode[]> {
    const alive = await Promise.all(nodes.map(async (n) => ((await n.server.cli('PING').catch(() => '')) === 'PONG' ? n : undefined)));
    return alive.filter((n): n is MutableNode => n !== undefined);
  }

  async function waitUntilOk(timeoutMs = startTimeoutMs): Promise<void> {
    await waitFor(
      async () => {
        const running = await runningNodes();
        const infos = await Promise.all(running.map(async (n) => parseInfo(await n.server.cli('CLUSTER', 'INFO'))));
        return infos.length > 0 && infos.every((i) => i.get('cluster_state') === 'ok' && i.get('cluster_slots_ok') === String(CLUSTER_SLOTS));
      },
      { timeoutMs, intervalMs: 50, message: 'cluster_state:ok with all slots served on every running node' },
    );
  }

  /** Every running node's CLUSTER NODES agrees with each node's own view of itself. */
  async function waitUntilConverged(timeoutMs = startTimeoutMs): Promise<void> {
    await waitFor(
      async () => {
        const running = await runningNodes();
        const views = await Promise.all(running.map(async (n) => parseClusterNodes(await n.server.cli('CLUSTER', 'NODES'))));
        const selves = views.map((view) => view.find((line) => line.flags.includes('myself')));
        return views.every((view) =>
          selves.every((self) => {
            if (!self) return false;
            const seen = view.find((line) => line.id === self.id);
            return (
              seen !== undefined &&
              seen.primaryId === self.primaryId &&
              seen.flags.includes('master') === self.flags.includes('master') &&
              !seen.flags.some((f) => f === 'handshake' || f === 'noaddr' || f === 'fail' || f === 'fail?')
            );
          }),
        );
      },
      { timeoutMs, intervalMs: 50, message: 'all nodes to agree on the cluster topology' },
    );
  }

  async function refresh(): Promise<void> {
    // Each node is the authority on its own role ("myself" line).
    await Promise.all(
      nodes.map(async (node) => {
        const text = await node.server.cli('CLUSTER', 'NODES').catch(() => undefined);
        const self = text === undefined ? undefined : parseClusterNodes(text).find((l) => l.flags.includes('myself'));
        if (!self) return;
        node.id = self.id;
        node.role = self.flags.includes('master') ? 'primary' : 'replica';
        node.primaryId = self.primaryId;
      }),
    );
  }

  const cluster: RedisCluster = {
    nodes,
    primaries: () => nodes.filter((n) => n.role === 'primary'),
    replicas: () => nodes.filter((n) => n.role === 'replica'),
    refresh,
    waitUntilOk,
    async nodeOwningSlot(slot) {
      for (const node of await runningNodes()) {
        const reply = await node.server.call('CLUSTER', 'SLOTS').catch(() => undefined);
        if (!Array.isArray(reply)) continue;
        for (const range of reply) {
          if (!Array.isArray(range)) continue;
          const [start, end, owner] = range as [number, number, unknown];
          if (slot < start || slot > end || !Array.isArray(owner)) continue;
          const ownerPort = Number(owner[1]);
          const found = nodes.find((n) => n.port === ownerPort);
          if (found) return found;
        }
      }
      throw new Error(`no running node reports an owner for slot ${slot}`);
    },
    async failover(replica) {
      const node = nodes.find((n) => n === replica);
      if (!node) throw new Error(`failover: node on port ${replica.port} is not part of this cluster`);
      const oldPrimary = nodes.find((n) => n.id === node.primaryId);
      // Replicas refuse a manual failover until their link to the primary is up.
      await waitForReplicaLink(node.server);
      // A primary ignores a replica's manual-failover request until gossip tells it that node is its
      // replica, and the request then silently times out after 5 s: retry rather than flake.
      for (let attempt = 1; ; attempt += 1) {
        await node.server.cli('CLUSTER', 'FAILOVER');
        try {
          await waitFor(async () => formatRole(await node.server.call('ROLE')) === 'master', {
            timeoutMs: MANUAL_FAILOVER_WAIT_MS,
            message: `replica ${node.port} to become a primary after CLUSTER FAILOVER`,
          });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
      if (oldPrimary) {
        await waitFor(async () => formatRole(await oldPrimary.server.call('ROLE')) === 'slave', {
          timeoutMs: 10_000,
          message: `old primary ${oldPrimary.port} to become a replica`,
        });
      }
      await waitUntilOk(10_000);
      await waitUntilConverged(10_000);
      await refresh();
    },
    startupNodes: () => nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions() {
      // Per-node address comes from the cluster itself; only auth and TLS are shared.
      const redisOptions = { ...nodes[0]?.server.clientOptions() };
      delete redisOptions.host;
      delete redisOptions.port;
      return { redisOptions };
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.server.stop()));
    },
  };

  try {
    const args = ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`)];
    args.push('--cluster-replicas', String(replicasPerPrimary), '--cluster-yes');
    if (options.tls) args.push('--tls', '--cacert', options.tls.ca.certPath);
    if (options.password !== undefined) args.push('-a', options.password, '--no-auth-warning');
    try {
      await execFileAsync('redis-cli', args, { timeout: startTimeoutMs });
    } catch (err) {
      const out = err as { stdout?: unknown; stderr?: unknown };
      throw new Error(`redis-cli --cluster create failed:\n${String(out.stdout)}\n${String(out.stderr)}`, {
        cause: err,
      });
    }
    await waitUntilOk();
    await waitFor(
      async () => {
        await refresh();
        return cluster.primaries().length === primaryCount && cluster.replicas().length === total - primaryCount;
      },
      { timeoutMs: startTimeoutMs, message: `${primaryCount} primaries and ${total - primaryCount} replicas` },
    );
    await waitUntilConverged();
    // Tests start from a fully synced cluster, so an immediate failover or replica read works.
    await Promise.all(cluster.replicas().map((replica) => waitForReplicaLink(replica.server)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

function waitForReplicaLink(server: RedisServer): Promise<boolean> {
  return waitFor(async () => parseInfo(await server.cli('INFO', 'replication')).get('master_link_status') === 'up', {
    timeoutMs: 10_000,
    message: `replica ${server.port} to report master_link_status:up`,
  });
}

function formatRole(reply: unknown): string {
  return Array.isArray(reply) ? String(reply[0]) : '';
}
