import { isDeepStrictEqual } from 'node:util';
import type { CredentialConfig, DaemonConfig, TargetConfig } from '../config/types.ts';
import { ownedTargets } from '../config/shard.ts';

/** What a reload has to do to turn the running config into the new one. */
export interface ConfigDiff {
  /** Targets this replica now probes and did not before (new, or moved to this shard). */
  readonly added: readonly TargetConfig[];
  /** Targets to stop: gone from the config, or now owned by another shard. */
  readonly removed: readonly string[];
  /** Targets to restart with their new config: a field differs, or their credential's config does. */
  readonly changed: readonly TargetConfig[];
  /** Targets that keep running untouched: connections, counters and all. */
  readonly unchanged: readonly string[];
  /** Credentials to (re)create before the targets that use them start. */
  readonly credentialsToCreate: readonly CredentialConfig[];
  /** Credentials to close once the targets using them have stopped. */
  readonly credentialsToClose: readonly string[];
  /** Whether the `location` label changes. */
  readonly locationChanged: boolean;
  /** Settings that differ but only take effect after a restart, as field paths (`server.port`). */
  readonly restartRequired: readonly string[];
}

/** Fields read once at start-up: the listener, the logger and the set of exported metrics. */
const RESTART_ONLY_SECTIONS = ['server', 'log', 'metrics'] as const;

/**
 * Compares what runs (`current`) with a validated new config. Only the targets this replica owns
 * count (the shard may itself have changed), and only credentials those targets use are kept alive.
 */
export function diffConfig(current: DaemonConfig, next: DaemonConfig): ConfigDiff {
  const before = new Map(ownedTargets(current.targets, current.shard).map((target) => [target.name, target]));
  const after = ownedTargets(next.targets, next.shard);
  const credentialsBefore = new Map(current.credentials.map((credential) => [credential.name, credential]));
  const credentialsAfter = new Map(next.credentials.map((credential) => [credential.name, credential]));
  const credentialChanged = (name: string | undefined): boolean =>
    name !== undefined && !isDeepStrictEqual(credentialsBefore.get(name), credentialsAfter.get(name));

  const added: TargetConfig[] = [];
  const changed: TargetConfig[] = [];
  const unchanged: string[] = [];
  for (const target of after) {
    const previous = before.get(target.name);
    if (!previous) added.push(target);
    else if (!isDeepStrictEqual(previous, target) || credentialChanged(target.credential)) changed.push(target);
    else unchanged.push(target.name);
  }
  const afterNames = new Set(after.map((target) => target.name));
  const removed = [...before.keys()].filter((name) => !afterNames.has(name));

  const usedBefore = credentialNames(before.values());
  const usedAfter = credentialNames(after);
  // A credential is recreated when its config changed, or when it starts being used.
  const credentialsToCreate = [...usedAfter]
    .filter((name) => !usedBefore.has(name) || credentialChanged(name))
    .flatMap((name) => {
      const credential = credentialsAfter.get(name);
      return credential ? [credential] : [];
    });
  const recreated = new Set(credentialsToCreate.map((credential) => credential.name));
  const credentialsToClose = [...usedBefore].filter((name) => !usedAfter.has(name) || recreated.has(name));

  const restartRequired = RESTART_ONLY_SECTIONS.flatMap((section) => changedPaths(current[section], next[section], section));
  return {
    added,
    removed,
    changed,
    unchanged,
    credentialsToCreate,
    credentialsToClose,
    locationChanged: current.location !== next.location,
    restartRequired,
  };
}

function credentialNames(targets: Iterable<TargetConfig>): Set<string> {
  const names = new Set<string>();
  for (const target of targets) if (target.credential !== undefined) names.add(target.credential);
  return names;
}

/** Dotted paths of the leaves that differ between two plain config objects. */
function changedPaths(before: unknown, after: unknown, path: string): string[] {
  if (isDeepStrictEqual(before, after)) return [];
  if (!isPlainObject(before) || !isPlainObject(after)) return [path];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((key) => changedPaths(before[key], after[key], `${path}.${key}`));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
