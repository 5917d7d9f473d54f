import { createHash } from 'node:crypto';

/** This replica's slice of the targets: shard `index` of `count` (0-based). */
export interface ShardAssignment {
  readonly index: number;
  readonly count: number;
}

/**
 * The shard that owns a target, by rendezvous (highest random weight) hashing of its name: every
 * shard scores the name and the highest score wins. The answer depends only on the name and the
 * count, so every replica agrees without talking to the others, and changing the count from n to
 * n+1 moves only the targets the new shard now wins (about 1/(n+1) of them), never any between
 * the old shards.
 */
export function shardOf(name: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count must be a whole number of at least 1 (got ${count})`);
  let best = 0;
  let bestScore = -1;
  for (let shard = 0; shard < count; shard++) {
    const score = weight(name, shard);
    // Ties (48-bit scores, so practically never) go to the lower shard, the same on every replica.
    if (score > bestScore) {
      best = shard;
      bestScore = score;
    }
  }
  return best;
}

/** Whether this replica probes the target; without sharding, every target is ours. */
export function ownsTarget(name: string, shard: ShardAssignment | undefined): boolean {
  return shard === undefined || shard.count <= 1 || shardOf(name, shard.count) === shard.index;
}

/** The targets this replica probes, in config order. */
export function ownedTargets<T extends { readonly name: string }>(targets: readonly T[], shard: ShardAssignment | undefined): T[] {
  return targets.filter((target) => ownsTarget(target.name, shard));
}

/**
 * A pod of a StatefulSet is named `<set>-<ordinal>`; returns the ordinal, or undefined when the
 * name does not end that way.
 */
export function ordinalFromHostname(hostname: string): number | undefined {
  // A FQDN (pod.service.namespace...) carries the pod name as its first label.
  const podName = hostname.split('.')[0] ?? '';
  const match = /-(\d{1,6})$/.exec(podName);
  return match ? Number(match[1]) : undefined;
}

/**
 * A stable pseudo-random weight of (name, shard): the first 48 bits of SHA-256. Changing this changes
 * which replica probes what, so it is pinned by tests; a mixed-version rollout must agree on it.
 */
function weight(name: string, shard: number): number {
  return createHash('sha256').update(`${shard}\u0000${name}`).digest().readUIntBE(0, 6);
}
