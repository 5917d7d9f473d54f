import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/shared/clock.ts';
import { watchConfigFile } from '../../src/daemon/config-watcher.ts';
import type { ConfigWatcher, WatchDirectory } from '../../src/daemon/config-watcher.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { delay, waitFor } from '../support/wait.ts';

/** A directory watch the test fires by hand. */
function manualWatch() {
  const watched: string[] = [];
  let fire: (() => void) | undefined;
  let closed = false;
  const watchDirectory: WatchDirectory = (dir, onEvent) => {
    watched.push(dir);
    fire = onEvent;
    return { close: () => void (closed = true) };
  };
  return { watchDirectory, watched, fire: () => fire?.(), isClosed: () => closed };
}

describe('watchConfigFile (injected clock and watch)', () => {
  function setup(files: Map<string, string>, options: { pollIntervalMs?: number } = {}) {
    const clock = new FakeClock();
    const watch = manualWatch();
    const events = { changes: 0, errors: [] as unknown[] };
    const watcher = watchConfigFile('/etc/redis-probe/config.yaml', {
      clock,
      readFile: (path) => {
        const text = files.get(path);
        if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        return text;
      },
      watchDirectory: watch.watchDirectory,
      debounceMs: 200,
      ...options,
      onChange: () => void (events.changes += 1),
      onError: (error) => void events.errors.push(error),
    });
    return { clock, watch, events, watcher };
  }

  it('watches the directory holding the file, not the file', () => {
    const { watch, watcher } = setup(new Map([['/etc/redis-probe/config.yaml', 'a']]));
    assert.deepEqual(watch.watched, ['/etc/redis-probe']);
    watcher.close();
    assert.ok(watch.isClosed());
  });

  it('debounces a burst of events into one read, and reports only a changed hash', () => {
    const files = new Map([['/etc/redis-probe/config.yaml', 'version: 1']]);
    const { clock, watch, events, watcher } = setup(files);
    watch.fire();
    clock.advance(500);
    assert.equal(events.changes, 0, 'same content: no change');
    files.set('/etc/redis-probe/config.yaml', 'version: 2');
    for (let n = 0; n < 5; n++) {
      watch.fire();
      clock.advance(100);
    }
    assert.equal(events.changes, 0, 'still inside the quiet period');
    clock.advance(200);
    assert.equal(events.changes, 1);
    watch.fire();
    clock.advance(500);
    assert.equal(events.changes, 1, 'the same new content is not a second change');
    watcher.close();
  });

  it('a file missing mid-swap is an error to report, not a change; the next event reads it', () => {
    const files = new Map([['/etc/redis-probe/config.yaml', 'one']]);
    const { clock, watch, events, watcher } = setup(files);
    files.delete('/etc/redis-probe/config.yaml');
    watch.fire();
    clock.advance(300);
    assert.equal(events.changes, 0);
    assert.equal(events.errors.length, 1);
    files.set('/etc/redis-probe/config.yaml', 'two');
    watch.fire();
    clock.advance(300);
    assert.equal(events.changes, 1);
    watcher.close();
  });

  it('check() records the content, so a SIGHUP reload is not repeated by the watcher', () => {
    const files = new Map([['/etc/redis-probe/config.yaml', 'one']]);
    const { clock, watch, events, watcher } = setup(files);
    files.set('/etc/redis-probe/config.yaml', 'two');
    assert.equal(watcher.check(), true);
    watch.fire();
    clock.advance(300);
    assert.equal(events.changes, 0);
    watcher.close();
  });

  it('polls too, for filesystems where events do not arrive', () => {
    const files = new Map([['/etc/redis-probe/config.yaml', 'one']]);
    const { clock, events, watcher } = setup(files, { pollIntervalMs: 10_000 });
    files.set('/etc/redis-probe/config.yaml', 'two');
    clock.advance(10_000 + 200);
    assert.equal(events.changes, 1);
    watcher.close();
    assert.equal(clock.pendingTimers().length, 0, 'close() clears the poll and debounce timers');
  });
});

describe('watchConfigFile on a real ConfigMap-style mount', { timeout: 20_000 }, () => {
  const watchers: ConfigWatcher[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const watcher of watchers) watcher.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  /**
   * The layout the kubelet writes for a ConfigMap volume: `config.yaml -> ..data/config.yaml`,
   * `..data -> ..<timestamp>`, and an update that writes a new timestamped dir and renames a new
   * `..data` symlink over the old one (atomic), then deletes the old dir.
   */
  async function configMapMount(content: string) {
    const dir = await mkdtemp(join(tmpdir(), 'redis-probe-configmap-'));
    dirs.push(dir);
    let generation = 0;
    const writeGeneration = async (text: string) => {
      const name = `..2025_01_01_00_00_0${generation}.${String(generation).padStart(9, '0')}`;
      generation += 1;
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'config.yaml'), text);
      return name;
    };
    let current = await writeGeneration(content);
    await symlink(current, join(dir, '..data'));
    await symlink('..data/config.yaml', join(dir, 'config.yaml'));
    return {
      path: join(dir, 'config.yaml'),
      dir,
      async swap(text: string) {
        const next = await writeGeneration(text);
        await symlink(next, join(dir, '..data_tmp'));
        await rename(join(dir, '..data_tmp'), join(dir, '..data'));
        await rm(join(dir, current), { recursive: true });
        current = next;
      },
    };
  }

  it('notices the ..data symlink swap once, and ignores unrelated files', async () => {
    const mount = await configMapMount('targets: [one]\n');
    let changes = 0;
    const errors: unknown[] = [];
    const watcher = watchConfigFile(mount.path, {
      clock: systemClock,
      readFile: (path) => readFileSync(path),
      debounceMs: 100,
      onChange: () => void (changes += 1),
      onError: (error) => void errors.push(error),
    });
    watchers.push(watcher);
    await writeFile(join(mount.dir, 'unrelated.txt'), 'noise');
    await delay(400);
    assert.equal(changes, 0, 'an unrelated file does not count');

    await mount.swap('targets: [one, two]\n');
    await waitFor(() => changes === 1, { timeoutMs: 5000, message: 'the swap to be noticed' });
    assert.equal(await readFile(mount.path, 'utf8'), 'targets: [one, two]\n');
    await delay(400);
    assert.equal(changes, 1, 'one swap is one change');

    await mount.swap('targets: [three]\n');
    await waitFor(() => changes === 2, { timeoutMs: 5000, message: 'the second swap to be noticed' });
    watcher.close();
  });
});
