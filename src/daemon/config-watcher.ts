import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Clock, TimerHandle } from '../shared/clock.ts';

/** A running watch on one directory. */
export interface DirectoryWatch {
  close(): void;
}

/** Calls `onEvent` whenever anything in `dir` changes; fs.watch in production, a manual seam in tests. */
export type WatchDirectory = (dir: string, onEvent: () => void, onError: (error: unknown) => void) => DirectoryWatch;

/** Watches the config file for changes of its content. */
export interface ConfigWatcher {
  /** Re-reads the file now (e.g. after SIGHUP) and records its hash; returns whether it changed. */
  check(): boolean;
  close(): void;
}

/** Everything the watcher touches, injectable for tests. */
export interface ConfigWatcherDeps {
  readonly clock: Clock;
  /** Reads the file, following symlinks; throws while it is missing. */
  readonly readFile: (path: string) => Buffer | string;
  readonly watchDirectory?: WatchDirectory;
  /** Quiet time after the last event before the file is read: an editor or a ConfigMap swap is several events. */
  readonly debounceMs?: number;
  /** Also re-read on this period, for filesystems where watching is unreliable; 0 disables it. */
  readonly pollIntervalMs?: number;
  /** The content changed (its hash differs from the last one seen). */
  readonly onChange: () => void;
  /** Watching failed or the file could not be read; the watcher keeps going. */
  readonly onError: (error: unknown) => void;
}

export const DEFAULT_WATCH_DEBOUNCE_MS = 250;

/** fs.watch on a directory; events for any entry count, since a ConfigMap swap renames `..data`, not the file. */
export const fsWatchDirectory: WatchDirectory = (dir, onEvent, onError) => {
  const watcher = watch(dir, { persistent: false }, () => onEvent());
  watcher.on('error', onError);
  return { close: () => watcher.close() };
};

/**
 * Watches the directory that holds the config file rather than the file: Kubernetes updates a mounted
 * ConfigMap by pointing the `..data` symlink at a new timestamped directory, so `config.yaml`
 * (itself a symlink into `..data`) never changes as a directory entry, and a watch on the file would
 * keep following the old, deleted inode. Every event is debounced, then the file is read through its
 * symlinks and hashed; only a different hash counts as a change, which also filters out the events of
 * unrelated files and of rewrites with identical content.
 */
export function watchConfigFile(path: string, deps: ConfigWatcherDeps): ConfigWatcher {
  const { clock } = deps;
  const file = resolve(path);
  const debounceMs = deps.debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
  let lastHash: string | undefined;
  try {
    lastHash = hashOf(deps.readFile, file);
  } catch {
    // Unreadable now: the first readable content then counts as a change.
  }
  let debounceTimer: TimerHandle | undefined;
  let pollTimer: TimerHandle | undefined;
  let closed = false;

  const check = (): boolean => {
    let hash: string;
    try {
      hash = hashOf(deps.readFile, file);
    } catch (error) {
      // Mid-swap the file may be briefly missing; the swap's next event (or the poll) reads it again.
      deps.onError(error);
      return false;
    }
    if (hash === lastHash) return false;
    lastHash = hash;
    return true;
  };

  const onEvent = (): void => {
    if (closed) return;
    if (debounceTimer) clock.clearTimeout(debounceTimer);
    debounceTimer = clock.setTimeout(() => {
      debounceTimer = undefined;
      if (!closed && check()) deps.onChange();
    }, debounceMs);
    debounceTimer.unref?.();
  };

  const schedulePoll = (): void => {
    if (!deps.pollIntervalMs || closed) return;
    pollTimer = clock.setTimeout(() => {
      onEvent();
      schedulePoll();
    }, deps.pollIntervalMs);
    pollTimer.unref?.();
  };

  let directoryWatch: DirectoryWatch | undefined;
  try {
    directoryWatch = (deps.watchDirectory ?? fsWatchDirectory)(dirname(file), onEvent, deps.onError);
  } catch (error) {
    // Without a watch, SIGHUP (and the poll) still reload.
    deps.onError(error);
  }
  schedulePoll();

  return {
    check,
    close() {
      closed = true;
      directoryWatch?.close();
      if (debounceTimer) clock.clearTimeout(debounceTimer);
      if (pollTimer) clock.clearTimeout(pollTimer);
    },
  };
}

function hashOf(readFile: (path: string) => Buffer | string, file: string): string {
  return createHash('sha256').update(readFile(file)).digest('hex');
}
