import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CredentialConfig, DaemonConfig, TargetConfig } from '../../src/config/types.ts';
import { diffConfig } from '../../src/daemon/diff-config.ts';
import type { ConfigDiff } from '../../src/daemon/diff-config.ts';
import { shardOf } from '../../src/config/shard.ts';
import { targetConfig } from '../support/target-config.ts';

const key = (name: string, password = `${name}-password`): CredentialConfig => ({ type: 'access-key', name, password });
const target = (name: string, overrides: Partial<TargetConfig> = {}): TargetConfig => targetConfig({ name, port: 6379, ...overrides });

function config(targets: readonly TargetConfig[], credentials: readonly CredentialConfig[] = [], extra: Partial<DaemonConfig> = {}): DaemonConfig {
  return {
    server: { host: '127.0.0.1', port: 9637, shutdownGraceMs: 10_000 },
    log: { level: 'info', format: 'json', cycles: 'failures' },
    metrics: { detail: 'standard', stepHistograms: true, preinitialiseFailures: true },
    credentials,
    targets,
    ...extra,
  };
}

const names = (targets: readonly TargetConfig[]) => targets.map((entry) => entry.name);
/** Everything a diff would apply live; all empty (and false) when it changes nothing that runs. */
const live = (diff: ConfigDiff) => ({
  added: names(diff.added),
  removed: diff.removed,
  changed: names(diff.changed),
  credentialsToCreate: diff.credentialsToCreate.map((credential) => credential.name),
  credentialsToClose: diff.credentialsToClose,
  locationChanged: diff.locationChanged,
});
const NOTHING_LIVE = { added: [], removed: [], changed: [], credentialsToCreate: [], credentialsToClose: [], locationChanged: false };

describe('diffConfig', () => {
  it('an identical config changes nothing', () => {
    const running = config([target('a', { credential: 'k' }), target('b')], [key('k')]);
    const diff = diffConfig(running, structuredClone(running));
    assert.deepEqual(live(diff), NOTHING_LIVE);
    assert.deepEqual(diff.unchanged, ['a', 'b']);
    assert.deepEqual(diff.restartRequired, []);
  });

  it('sorts targets into added, removed, changed and unchanged', () => {
    const before = config([target('keep'), target('drop'), target('edit')]);
    const after = config([target('keep'), target('edit', { timeoutMs: 2000 }), target('new')]);
    const diff = diffConfig(before, after);
    assert.deepEqual(names(diff.added), ['new']);
    assert.deepEqual(diff.removed, ['drop']);
    assert.deepEqual(names(diff.changed), ['edit']);
    assert.equal(diff.changed[0]?.timeoutMs, 2000, 'the changed target carries its new config');
    assert.deepEqual(diff.unchanged, ['keep']);
  });

  it('any field counts as a change: labels, TLS material, steps, schedule, maintenance', () => {
    const base = target('t');
    const variants: Partial<TargetConfig>[] = [
      { labels: { team: 'x' } },
      { tls: { enabled: true, verify: true, ca: 'PEM-2' } },
      { steps: ['ping'] },
      { schedule: '*/5 * * * * *' },
      { maintenanceEvents: true },
      { key: { prefix: 'other:', ttlMs: 60_000 } },
      { port: 6380 },
    ];
    for (const variant of variants) {
      const diff = diffConfig(config([base]), config([{ ...base, ...variant }]));
      assert.deepEqual(names(diff.changed), ['t'], JSON.stringify(variant));
    }
  });

  it('a credential whose config changed is recreated and restarts every target using it, and only those', () => {
    const before = config(
      [target('a', { credential: 'k' }), target('b', { credential: 'k' }), target('c', { credential: 'other' }), target('d')],
      [key('k'), key('other')],
    );
    const after = config(before.targets, [key('k', 'rotated-password'), key('other')]);
    const diff = diffConfig(before, after);
    assert.deepEqual(names(diff.changed), ['a', 'b']);
    assert.deepEqual(diff.unchanged, ['c', 'd']);
    assert.deepEqual(
      diff.credentialsToCreate.map((credential) => credential.name),
      ['k'],
    );
    assert.equal(diff.credentialsToCreate[0]?.type === 'access-key' && diff.credentialsToCreate[0].password, 'rotated-password');
    assert.deepEqual(diff.credentialsToClose, ['k'], 'the old instance closes after its targets stop');
  });

  it('credentials come and go with the targets that use them; unused ones are never created', () => {
    const before = config([target('a', { credential: 'old' })], [key('old'), key('unused')]);
    const after = config([target('b', { credential: 'new' })], [key('new'), key('unused')]);
    const diff = diffConfig(before, after);
    assert.deepEqual(
      diff.credentialsToCreate.map((credential) => credential.name),
      ['new'],
    );
    assert.deepEqual(diff.credentialsToClose, ['old']);
  });

  it('a target switching credentials restarts; the credential it left closes if nobody else uses it', () => {
    const before = config([target('a', { credential: 'one' })], [key('one'), key('two')]);
    const after = config([target('a', { credential: 'two' })], [key('one'), key('two')]);
    const diff = diffConfig(before, after);
    assert.deepEqual(names(diff.changed), ['a']);
    assert.deepEqual(
      diff.credentialsToCreate.map((credential) => credential.name),
      ['two'],
    );
    assert.deepEqual(diff.credentialsToClose, ['one']);
  });

  it('server, log and metrics changes are reported as needing a restart, by field path', () => {
    const before = config([target('a')]);
    const after = config([target('a')], [], {
      server: { host: '0.0.0.0', port: 9999, shutdownGraceMs: 10_000 },
      log: { level: 'debug', format: 'json', cycles: 'failures' },
      metrics: { detail: 'standard', stepHistograms: false, preinitialiseFailures: true },
    });
    const diff = diffConfig(before, after);
    assert.deepEqual(diff.restartRequired, ['server.host', 'server.port', 'log.level', 'metrics.stepHistograms']);
    assert.deepEqual(live(diff), NOTHING_LIVE, 'nothing that can apply live changes');
  });

  it('a location change is applied live', () => {
    const diff = diffConfig(config([target('a')]), config([target('a')], [], { location: 'westeurope' }));
    assert.equal(diff.locationChanged, true);
    assert.deepEqual(diff.unchanged, ['a']);
  });

  it('only targets of this shard count; a new shard count moves targets in and out', () => {
    const all = Array.from({ length: 40 }, (_, index) => target(`cache-${index}`));
    const before = config(all, [], { shard: { index: 1, count: 2, source: 'env' } });
    const after = config(all, [], { shard: { index: 1, count: 3, source: 'env' } });
    const diff = diffConfig(before, after);
    const ownedBefore = all.filter((entry) => shardOf(entry.name, 2) === 1).map((entry) => entry.name);
    const ownedAfter = all.filter((entry) => shardOf(entry.name, 3) === 1).map((entry) => entry.name);
    assert.deepEqual(
      names(diff.added),
      ownedAfter.filter((name) => !ownedBefore.includes(name)),
    );
    assert.deepEqual(
      diff.removed,
      ownedBefore.filter((name) => !ownedAfter.includes(name)),
    );
    assert.deepEqual(
      diff.unchanged,
      ownedAfter.filter((name) => ownedBefore.includes(name)),
    );
    assert.deepEqual(diff.changed, []);
  });

  it('property: applying the diff to the running target set yields exactly the new owned set', () => {
    const arbitraryTarget = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      timeoutMs: fc.constantFrom(500, 1000),
      credential: fc.constantFrom(undefined, 'k1', 'k2'),
    });
    const arbitraryConfig = fc.record({
      targets: fc.uniqueArray(arbitraryTarget, { selector: (entry) => entry.name, maxLength: 6 }),
      k1: fc.constantFrom('p1', 'p1-rotated'),
      shardCount: fc.constantFrom(undefined, 1, 2, 3),
    });
    const build = (raw: { targets: { name: string; timeoutMs: number; credential: string | undefined }[]; k1: string; shardCount: number | undefined }) =>
      config(
        raw.targets.map((entry) => target(entry.name, { timeoutMs: entry.timeoutMs, ...(entry.credential ? { credential: entry.credential } : {}) })),
        [key('k1', raw.k1), key('k2')],
        raw.shardCount ? { shard: { index: 0, count: raw.shardCount, source: 'config' } } : {},
      );
    fc.assert(
      fc.property(arbitraryConfig, arbitraryConfig, (rawBefore, rawAfter) => {
        const before = build(rawBefore);
        const after = build(rawAfter);
        const diff = diffConfig(before, after);
        const owned = (cfg: DaemonConfig) => cfg.targets.filter((entry) => !cfg.shard || shardOf(entry.name, cfg.shard.count) === cfg.shard.index);
        const running = new Map(owned(before).map((entry) => [entry.name, entry]));
        for (const name of [...diff.removed, ...names(diff.changed)]) running.delete(name);
        for (const entry of [...diff.changed, ...diff.added]) {
          assert.ok(!running.has(entry.name), `${entry.name} started twice`);
          running.set(entry.name, entry);
        }
        assert.deepEqual(
          [...running.values()].map((entry) => entry.name).sort(),
          owned(after)
            .map((entry) => entry.name)
            .sort(),
        );
        for (const entry of owned(after)) assert.deepEqual(running.get(entry.name), entry, 'every running target has its new config');
        // Every credential a running target needs exists afterwards.
        const alive = new Set([...owned(before).flatMap((entry) => (entry.credential ? [entry.credential] : []))]);
        for (const name of diff.credentialsToClose) alive.delete(name);
        for (const credential of diff.credentialsToCreate) alive.add(credential.name);
        for (const entry of owned(after)) if (entry.credential) assert.ok(alive.has(entry.credential), `${entry.name} lacks ${entry.credential}`);
      }),
      { numRuns: 300 },
    );
  });
});
