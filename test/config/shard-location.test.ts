import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import type { DaemonConfig } from '../../src/config/types.ts';
import { shardOf } from '../../src/config/shard.ts';
import { runCli } from '../support/cli-process.ts';

const TARGETS = `targets:
  - { name: orders, host: orders.redis.cache.windows.net }
  - { name: private, host: ORDERS.privatelink.redis.cache.windows.net. }
  - { name: sessions, host: sessions.westeurope.redis.azure.net, port: 10000 }
  - { name: local, host: 127.0.0.1, tls: { enabled: false } }
`;

function parse(text: string, env: Record<string, string> = {}, hostname = 'laptop'): DaemonConfig {
  return parseConfig(text, { env, readFile: () => '', baseDir: '/', hostname: () => hostname });
}

function issues(text: string, env: Record<string, string> = {}, hostname = 'laptop'): readonly string[] {
  try {
    parse(text, env, hostname);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues;
  }
  assert.fail('should not validate');
}

describe('maintenanceEvents', () => {
  it('defaults to on for Azure Cache for Redis hosts only (private link and any case included)', () => {
    const config = parse(TARGETS);
    assert.deepEqual(
      config.targets.map((target) => [target.name, target.maintenanceEvents]),
      [
        ['orders', true],
        ['private', true],
        ['sessions', false],
        ['local', false],
      ],
    );
  });

  it('can be set either way per target', () => {
    const config = parse(`targets:
  - { name: off, host: orders.redis.cache.windows.net, maintenanceEvents: false }
  - { name: on, host: 10.0.0.4, maintenanceEvents: true }
`);
    assert.deepEqual(
      config.targets.map((target) => target.maintenanceEvents),
      [false, true],
    );
    assert.deepEqual(issues('targets:\n  - { name: x, host: h, maintenanceEvents: yes please }\n'), ['targets[0].maintenanceEvents: must be true or false']);
  });
});

describe('location', () => {
  it('comes from the file, or from REDIS_PROBE_LOCATION, which wins', () => {
    assert.equal(parse(TARGETS).location, undefined);
    assert.equal(parse(`location: westeurope\n${TARGETS}`).location, 'westeurope');
    assert.equal(parse(`location: westeurope\n${TARGETS}`, { REDIS_PROBE_LOCATION: 'swedencentral' }).location, 'swedencentral');
    assert.equal(parse(TARGETS, { REDIS_PROBE_LOCATION: '' }).location, undefined, 'empty means unset');
  });

  it('must be a label-friendly word, named by its source when it is not', () => {
    assert.match(issues(`location: "west europe"\n${TARGETS}`)[0] ?? '', /^location: must be 1-63 characters/);
    assert.match(issues(TARGETS, { REDIS_PROBE_LOCATION: 'a/b' })[0] ?? '', /^REDIS_PROBE_LOCATION: must be 1-63 characters .*got "a\/b"/);
  });
});

describe('shard', () => {
  it('is absent unless asked for', () => {
    assert.equal(parse(TARGETS).shard, undefined);
  });

  it('reads index and count from the file', () => {
    assert.deepEqual(parse(`shard: { index: 1, count: 3 }\n${TARGETS}`).shard, { index: 1, count: 3, source: 'config' });
    assert.deepEqual(parse(`shard: { count: 1 }\n${TARGETS}`).shard, { index: 0, count: 1, source: 'config' }, 'one shard needs no index');
  });

  it('takes REDIS_PROBE_SHARD_INDEX and REDIS_PROBE_SHARD_COUNT over the file (per-pod values)', () => {
    assert.deepEqual(parse(TARGETS, { REDIS_PROBE_SHARD_INDEX: '2', REDIS_PROBE_SHARD_COUNT: '4' }).shard, { index: 2, count: 4, source: 'env' });
    assert.deepEqual(parse(`shard: { index: 0, count: 3 }\n${TARGETS}`, { REDIS_PROBE_SHARD_INDEX: '2' }).shard, { index: 2, count: 3, source: 'env' });
    assert.deepEqual(parse(`shard: { count: 3, fromHostname: true }\n${TARGETS}`, { REDIS_PROBE_SHARD_COUNT: '5' }, 'redis-probe-4').shard, {
      index: 4,
      count: 5,
      source: 'hostname',
    });
  });

  it('reads the StatefulSet ordinal from the host name with fromHostname', () => {
    assert.deepEqual(parse(`shard: { count: 3, fromHostname: true }\n${TARGETS}`, {}, 'redis-probe-2').shard, { index: 2, count: 3, source: 'hostname' });
    assert.deepEqual(issues(`shard: { count: 3, fromHostname: true }\n${TARGETS}`, {}, 'redis-probe-5d8f9-abcde'), [
      'shard.fromHostname: the host name "redis-probe-5d8f9-abcde" does not end in -<ordinal> as StatefulSet pods do; set shard.index or REDIS_PROBE_SHARD_INDEX instead',
    ]);
  });

  it('reports every inconsistency with an actionable message', () => {
    assert.deepEqual(issues(`shard: { index: 3, count: 3 }\n${TARGETS}`), [
      'shard.index: 3 (from shard.index) must be below the shard count 3; shards are numbered 0 to 2',
    ]);
    assert.deepEqual(issues(TARGETS, { REDIS_PROBE_SHARD_INDEX: '7', REDIS_PROBE_SHARD_COUNT: '2' }), [
      'shard.index: 7 (from REDIS_PROBE_SHARD_INDEX) must be below the shard count 2; shards are numbered 0 to 1',
    ]);
    assert.deepEqual(issues(`shard: { count: 3 }\n${TARGETS}`), [
      'shard.index: required when shard.count is 3; set shard.index, shard.fromHostname: true or REDIS_PROBE_SHARD_INDEX',
    ]);
    assert.deepEqual(issues(TARGETS, { REDIS_PROBE_SHARD_INDEX: '0' }), [
      'shard.count: required with a shard index; set shard.count or REDIS_PROBE_SHARD_COUNT to the number of replicas',
    ]);
    assert.deepEqual(issues(`shard: { index: 0, count: 2, fromHostname: true }\n${TARGETS}`, {}, 'redis-probe-1'), [
      'shard: set either index or fromHostname, not both',
    ]);
    assert.deepEqual(issues(TARGETS, { REDIS_PROBE_SHARD_INDEX: 'one', REDIS_PROBE_SHARD_COUNT: '0' }), [
      'REDIS_PROBE_SHARD_INDEX: must be a whole number of at least 0 (got "one")',
      'REDIS_PROBE_SHARD_COUNT: must be a whole number of at least 1 (got "0")',
    ]);
    assert.deepEqual([...issues(`shard: { index: -1, count: 1.5, colour: red }\n${TARGETS}`)].sort(), [
      'shard.count: must be a whole number from 1',
      'shard.index: must be 0 or more',
      'shard: unknown key "colour"; remove or correct it',
    ]);
  });
});

describe('redis-probe validate mentions shard and location', { timeout: 30_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-shard-validate-'));
    await writeFile(join(dir, 'config.yaml'), `location: westeurope\n${TARGETS}`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('without sharding: every target, and the location', async () => {
    const run = await runCli(['validate', '--config', join(dir, 'config.yaml')], {
      env: { REDIS_PROBE_SHARD_INDEX: '', REDIS_PROBE_SHARD_COUNT: '', REDIS_PROBE_LOCATION: '' },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\n {2}location: westeurope\n/);
    assert.match(run.stdout, /\n {2}shard: none \(this replica probes all 4 targets\)\n/);
  });

  it('with sharding from the environment: which shard, and which targets it probes', async () => {
    const run = await runCli(['validate', '--config', join(dir, 'config.yaml')], {
      env: { REDIS_PROBE_SHARD_INDEX: '1', REDIS_PROBE_SHARD_COUNT: '2', REDIS_PROBE_LOCATION: 'northeurope' },
    });
    assert.equal(run.code, 0, run.stderr);
    const owned = ['orders', 'private', 'sessions', 'local'].filter((name) => shardOf(name, 2) === 1);
    assert.match(run.stdout, /\n {2}location: northeurope\n/);
    assert.ok(
      run.stdout.includes(
        `  shard: 1 of 2 (index from REDIS_PROBE_SHARD_INDEX); probes ${owned.length} of 4 targets${owned.length ? ` (${owned.join(', ')})` : ''}\n`,
      ),
      run.stdout,
    );
  });

  it('exits 2 naming the variable when the environment is wrong', async () => {
    const run = await runCli(['validate', '--config', join(dir, 'config.yaml')], { env: { REDIS_PROBE_SHARD_INDEX: '5', REDIS_PROBE_SHARD_COUNT: '2' } });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /shard\.index: 5 \(from REDIS_PROBE_SHARD_INDEX\) must be below the shard count 2/);
  });
});
