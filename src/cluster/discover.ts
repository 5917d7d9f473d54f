/** Pure parsing of CLUSTER SHARDS (Redis 7+) and CLUSTER SLOTS (older servers) into the primaries to probe. */
import { UnexpectedReplyError } from '../probe/classify-error.ts';
import type { HostPort } from '../shared/address.ts';
import type { SlotRange } from './slot-key.ts';
import { CLUSTER_SLOT_COUNT } from './slot-key.ts';

/** What the cluster says about a primary's health (`unknown` with CLUSTER SLOTS, which does not say). */
export type NodeHealth = 'online' | 'loading' | 'failed' | 'unknown';

/** A primary that serves slots, at the address the cluster announces for it. */
export interface ClusterPrimary extends HostPort {
  /** The 40-hex node id, when the server reports it. */
  readonly id?: string;
  readonly slots: readonly SlotRange[];
  readonly health: NodeHealth;
}

/** The primaries of a cluster, ordered by their first slot so "first node" means the same thing every cycle. */
export interface ClusterTopology {
  readonly primaries: readonly ClusterPrimary[];
  readonly source: 'shards' | 'slots';
}

/** How the reply is read: which port a node is reached on, and where "unknown endpoint" points. */
export interface ParseContext {
  readonly tls: boolean;
  /** The host the discovery connection used; a node announced with endpoint `?`/null lives there. */
  readonly connectedHost: string;
}

type Field = string | number | null | undefined | readonly unknown[];

/** `[k1, v1, k2, v2, ...]` (RESP2 maps) into a lookup. */
function flatMap(value: unknown, what: string): ReadonlyMap<string, Field> {
  if (!Array.isArray(value) || value.length % 2 !== 0) throw new UnexpectedReplyError(`CLUSTER SHARDS: ${what} is not a key/value list`);
  const map = new Map<string, Field>();
  for (let i = 0; i < value.length; i += 2) map.set(String(value[i]), value[i + 1] as Field);
  return map;
}

function toPort(value: unknown): number | undefined {
  const port = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
}

function toSlot(value: unknown): number {
  const slot = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOT_COUNT)
    throw new UnexpectedReplyError(`cluster reply: ${String(value).slice(0, 20)} is not a slot`);
  return slot;
}

/** The announced host: the preferred endpoint, else the IP; `?`, null or empty mean "the host you asked". */
function announcedHost(endpoint: unknown, ip: unknown, context: ParseContext): string {
  for (const candidate of [endpoint, ip]) {
    if (candidate === undefined) continue;
    if (candidate === null || candidate === '' || candidate === '?') return context.connectedHost;
    if (typeof candidate === 'string') return candidate;
  }
  return context.connectedHost;
}

function toHealth(value: unknown): NodeHealth {
  // Redis documents "failed"; 7.0 sends "fail".
  if (value === 'online') return 'online';
  if (value === 'loading') return 'loading';
  if (value === 'failed' || value === 'fail') return 'failed';
  return 'unknown';
}

const HEALTH_PREFERENCE: readonly NodeHealth[] = ['online', 'loading', 'unknown', 'failed'];

function byFirstSlot(a: ClusterPrimary, b: ClusterPrimary): number {
  return (a.slots[0]?.start ?? 0) - (b.slots[0]?.start ?? 0);
}

function nonEmpty(topology: ClusterTopology): ClusterTopology {
  if (topology.primaries.length === 0) throw new UnexpectedReplyError(`CLUSTER ${topology.source.toUpperCase()}: no primary serves any slot`);
  return topology;
}

/** Parses a RESP2 CLUSTER SHARDS reply. Shards without slots (a failed ex-primary, an empty new node) are skipped. */
export function parseClusterShards(reply: unknown, context: ParseContext): ClusterTopology {
  if (!Array.isArray(reply)) throw new UnexpectedReplyError('CLUSTER SHARDS did not answer a list');
  const primaries: ClusterPrimary[] = [];
  for (const shardValue of reply) {
    const shard = flatMap(shardValue, 'a shard');
    const slotList = shard.get('slots');
    if (!Array.isArray(slotList) || slotList.length % 2 !== 0) throw new UnexpectedReplyError('CLUSTER SHARDS: slots is not a list of ranges');
    const slots: SlotRange[] = [];
    for (let i = 0; i < slotList.length; i += 2) slots.push({ start: toSlot(slotList[i]), end: toSlot(slotList[i + 1]) });
    if (slots.length === 0) continue;
    slots.sort((a, b) => a.start - b.start);
    const nodeList = shard.get('nodes');
    if (!Array.isArray(nodeList)) throw new UnexpectedReplyError('CLUSTER SHARDS: nodes is not a list');
    const candidates = nodeList
      .map((value) => flatMap(value, 'a node'))
      .filter((node) => node.get('role') === 'master' || node.get('role') === 'primary')
      .map((node) => {
        const plain = toPort(node.get('port'));
        const secure = toPort(node.get('tls-port'));
        const port = context.tls ? (secure ?? plain) : (plain ?? secure);
        if (port === undefined) throw new UnexpectedReplyError('CLUSTER SHARDS: a primary has no usable port');
        const id = node.get('id');
        return {
          host: announcedHost(node.get('endpoint'), node.get('ip'), context),
          port,
          ...(typeof id === 'string' ? { id } : {}),
          slots,
          health: toHealth(node.get('health')),
        };
      });
    // Mid-failover a shard can list two primaries; the healthy one is the one clients are sent to.
    candidates.sort((a, b) => HEALTH_PREFERENCE.indexOf(a.health) - HEALTH_PREFERENCE.indexOf(b.health));
    const primary = candidates[0];
    if (primary) primaries.push(primary);
  }
  return nonEmpty({ primaries: primaries.sort(byFirstSlot), source: 'shards' });
}

/** Parses a RESP2 CLUSTER SLOTS reply: `[start, end, [host, port, id?, meta?], ...replicas]` per range. */
export function parseClusterSlots(reply: unknown, context: ParseContext): ClusterTopology {
  if (!Array.isArray(reply)) throw new UnexpectedReplyError('CLUSTER SLOTS did not answer a list');
  const byNode = new Map<string, { host: string; port: number; id?: string; slots: SlotRange[] }>();
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3 || !Array.isArray(entry[2])) throw new UnexpectedReplyError('CLUSTER SLOTS: malformed slot range');
    const [startValue, endValue, owner] = entry as [unknown, unknown, readonly unknown[]];
    const port = toPort(owner[1]);
    if (port === undefined) throw new UnexpectedReplyError('CLUSTER SLOTS: a primary has no usable port');
    const host = announcedHost(owner[0], undefined, context);
    const id = typeof owner[2] === 'string' && owner[2] !== '' ? owner[2] : undefined;
    const key = id ?? `${host}:${port}`;
    const node = byNode.get(key) ?? { host, port, ...(id !== undefined ? { id } : {}), slots: [] };
    node.slots.push({ start: toSlot(startValue), end: toSlot(endValue) });
    byNode.set(key, node);
  }
  const primaries = [...byNode.values()].map((node) => ({
    ...node,
    slots: node.slots.sort((a, b) => a.start - b.start),
    health: 'unknown' as const,
  }));
  return nonEmpty({ primaries: primaries.sort(byFirstSlot), source: 'slots' });
}
