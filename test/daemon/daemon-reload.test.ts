import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { systemClock } from '../../src/shared/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import type { DaemonConfig } from '../../src/config/types.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import type { Daemon } from '../../src/daemon/daemon.ts';
import { cronTickSource } from '../../src/daemon/scheduler.ts';
import type { TickSource } from '../../src/daemon/scheduler.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { shardOf } from '../../src/config/shard.ts';
import { freePort } from '../support/free-port.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { waitFor } from '../support/wait.ts';
import { capturingLogger } from '../support/capturing-logger.ts';

const SCHEDULE = '*/30 * * * * *';
const PASSWORD_1 = 'reload-first-Pq82mX';
const PASSWORD_2 = 'reload-second-Lz40dW';

let server: RedisServer;
let httpPort: number;
const daemons: Daemon[] = [];
before(async () => {
  server = await startRedis({ aclUsers: [{ name: 'prober', password: PASSWORD_1, rules: `>${PASSWORD_2} +@all ~* &*` }] });
  httpPort = await freePort();
});
after(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop()));
  await server.stop();
});

/** A config as YAML, the way users write it; `targets` are flow mappings. */
function yaml(options: { targets: string[]; password?: string; extra?: string; port?: number }): string {
  return `server: { host: 127.0.0.1, port: ${options.port ?? httpPort} }
defaults: { schedule: "${SCHEDULE}", timeout: 1s, tls: { enabled: false } }
credentials:
  - { name: key, type: access-key, username: prober, password: ${options.password ?? PASSWORD_1} }
${options.extra ?? ''}
targets:
${options.targets.map((target) => `  - ${target}`).join('\n')}
`;
}

const parse = (text: string, env: Record<string, string> = {}): DaemonConfig =>
  parseConfig(text, { env, readFile: (path) => readFileSync(path, 'utf8'), baseDir: '/', hostname: () => 'test' });

const t = (name: string, extra = '') => `{ name: ${name}, host: 127.0.0.1, port: ${server.port}${extra} }`;

async function start(config: DaemonConfig, options: { tickSource?: TickSource } = {}) {
  const ticks = new ManualTickSource();
  const logger = capturingLogger();
  const instanceId = `reload-${randomUUID().slice(0, 8)}`;
  const daemon = createDaemon(config, {
    clock: systemClock,
    logger,
    redactor: createSecretRedactor(),
    tickSource: options.tickSource ?? ticks,
    instanceId,
    randomValue: randomUUID,
    random: Math.random,
    version: 'test',
    stagger: false,
    maintenance: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  daemons.push(daemon);
  await daemon.start();
  const text = () => daemon.metrics.registry.metrics();
  const value = async (name: string, labels: Record<string, string> = {}) => sampleValue(await text(), name, labels);
  /** Fires every schedule and waits until each named target finished one more cycle. */
  const cycle = async (...targets: string[]) => {
    const before = await Promise.all(targets.map(async (target) => (await value('redis_probe_cycles_total', { target })) ?? 0));
    for (const schedule of ticks.active()) ticks.tick(schedule, Date.now(), 30_000);
    await waitFor(
      async () => {
        const now = await Promise.all(targets.map(async (target) => (await value('redis_probe_cycles_total', { target })) ?? 0));
        return now.every((count, index) => count > (before[index] ?? 0));
      },
      { message: `a cycle of ${targets.join(', ')}` },
    );
  };
  /** CLIENT LIST id of the probe connection of `target`. */
  const connectionId = async (target: string) => {
    const list = await server.cli('CLIENT', 'LIST');
    const line = list.split('\n').find((entry) => entry.includes(` name=redis-probe:${instanceId}:${target} `));
    return /\bid=(\d+)/.exec(line ?? '')?.[1];
  };
  return { daemon, logger, text, value, cycle, connectionId };
}

describe('hot reload: applyConfig and reload on a running daemon', { timeout: 50_000 }, () => {
  it('applies only the difference: unchanged targets keep connections and counters', async () => {
    const { daemon, logger, text, value, cycle, connectionId } = await start(
      parse(yaml({ targets: [t('keep'), t('edit'), t('drop'), t('authed', ', credential: key')] })),
    );
    await cycle('keep', 'edit', 'drop', 'authed');
    await cycle('keep', 'edit', 'drop', 'authed');
    const keepId = await connectionId('keep');
    const editId = await connectionId('edit');
    const authedId = await connectionId('authed');
    assert.ok(keepId && editId && authedId);
    const loadedAt = await value('redis_probe_config_last_reload_success_timestamp_seconds');
    assert.equal(await value('redis_probe_config_last_reload_successful'), 1, 'the initial load counts as a success');

    // edit gets a new timeout, drop goes, new arrives, and the key is rotated (authed uses it).
    const ok = await daemon.applyConfig(
      parse(yaml({ targets: [t('keep'), t('edit', ', timeout: 2s'), t('new'), t('authed', ', credential: key')], password: PASSWORD_2 })),
    );
    assert.equal(ok, true);
    const after = await text();
    assert.ok(!after.includes('target="drop"'), 'every series of the removed target is gone');
    assert.equal(sampleValue(after, 'redis_probe_cycles_total', { target: 'keep' }), 2, 'unchanged: counters kept');
    assert.equal(sampleValue(after, 'redis_probe_cycles_total', { target: 'edit' }), 0, 'changed: restarted from zero');
    assert.equal(sampleValue(after, 'redis_probe_cycles_total', { target: 'authed' }), 0, 'its credential changed: restarted');
    assert.equal(sampleValue(after, 'redis_probe_cycles_total', { target: 'new' }), 0, 'added, zero-initialised');
    assert.ok((sampleValue(after, 'redis_probe_config_last_reload_success_timestamp_seconds') ?? 0) >= (loadedAt ?? Infinity));

    await cycle('keep', 'edit', 'new', 'authed');
    assert.equal(await connectionId('keep'), keepId, 'unchanged: the same connection');
    assert.notEqual(await connectionId('edit'), editId, 'changed: a new connection');
    assert.notEqual(await connectionId('authed'), authedId, 'new credential: a new connection');
    assert.equal(await connectionId('drop'), undefined, 'the removed target closed its connection');
    for (const target of ['keep', 'edit', 'new', 'authed']) assert.equal(await value('redis_probe_success', { target }), 1, target);

    const reloaded = logger.entries.find((entry) => entry.message === 'configuration reloaded');
    assert.deepEqual(reloaded?.fields, {
      trigger: 'api',
      added: ['new'],
      removed: ['drop'],
      restarted: ['edit', 'authed'],
      unchanged: 1,
      credentialsRecreated: ['key'],
    });
    assert.equal((await promtoolCheckMetrics(await text())).code, 0);
    await daemon.stop();
  });

  it('a failed reload keeps the old config running, logs every issue and sets the gauge to 0', async () => {
    const { daemon, logger, value, cycle } = await start(parse(yaml({ targets: [t('steady')] })));
    await cycle('steady');
    const successAt = await value('redis_probe_config_last_reload_success_timestamp_seconds');
    const ok = await daemon.reload(() => parse('targets:\n  - { name: x, host: h, port: 0 }\n  - { name: x, host: h, colour: blue }\n'), 'SIGHUP');
    assert.equal(ok, false);
    assert.equal(await value('redis_probe_config_last_reload_successful'), 0);
    assert.equal(await value('redis_probe_config_last_reload_success_timestamp_seconds'), successAt, 'the last success time stays');
    const failed = logger.entries.find((entry) => entry.message === 'configuration reload failed: the running configuration stays in force');
    assert.equal(failed?.level, 'error');
    assert.equal(failed?.fields['trigger'], 'SIGHUP');
    const issues = failed?.fields['issues'] as string[];
    assert.ok(
      issues.some((issue) => issue.includes('targets[0].port: must be 1-65535')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((issue) => issue.includes('targets[1]: unknown key "colour"')),
      issues.join('\n'),
    );
    await cycle('steady');
    assert.equal(await value('redis_probe_success', { target: 'steady' }), 1, 'still probing with the old config');

    // The next good reload sets it back.
    assert.equal(await daemon.reload(() => parse(yaml({ targets: [t('steady')] })), 'file_changed'), true);
    assert.equal(await value('redis_probe_config_last_reload_successful'), 1);
    await daemon.stop();
  });

  it('reports server and log changes as needing a restart, and keeps reporting them until then', async () => {
    const { daemon, logger } = await start(parse(yaml({ targets: [t('one')] })));
    const changed = yaml({ targets: [t('one')], port: httpPort + 1, extra: 'log: { level: debug }' });
    assert.equal(await daemon.applyConfig(parse(changed)), true);
    assert.equal(await daemon.applyConfig(parse(changed)), true);
    const warnings = logger.entries.filter((entry) => entry.message === 'configuration change needs a restart to take effect; the rest was applied');
    assert.deepEqual(
      warnings.map((entry) => entry.fields['fields']),
      [
        ['server.port', 'log.level'],
        ['server.port', 'log.level'],
      ],
    );
    assert.equal(daemon.httpPort, httpPort, 'still listening where it started');
    await daemon.stop();
  });

  it('sets, changes and drops the location label on every series, target_info included', async () => {
    const { daemon, text } = await start(parse(yaml({ targets: [t('here', ', labels: { team: cache }')], extra: 'location: westeurope' })));
    const withLocation = await text();
    for (const name of ['redis_probe_cycles_total', 'redis_probe_target_info', 'redis_probe_build_info', 'redis_probe_config_last_reload_successful']) {
      assert.ok(sampleValue(withLocation, name, { location: 'westeurope' }) !== undefined, name);
    }
    assert.equal(sampleValue(withLocation, 'redis_probe_target_info', { target: 'here', team: 'cache', location: 'westeurope' }), 1);
    await daemon.applyConfig(parse(yaml({ targets: [t('here', ', labels: { team: cache }'), t('there')], extra: 'location: northeurope' })));
    const moved = await text();
    assert.ok(!moved.includes('westeurope'));
    assert.equal(sampleValue(moved, 'redis_probe_target_info', { target: 'there', location: 'northeurope' }), 1, 'target_info rebuilt with the label');
    assert.equal((await promtoolCheckMetrics(moved)).code, 0);
    await daemon.applyConfig(parse(yaml({ targets: [t('here', ', labels: { team: cache }')] })));
    assert.ok(!(await text()).includes('location='));
    await daemon.stop();
  });

  it('starts and stops maintenance subscriptions with their targets', async () => {
    const numsub = async () => ((await server.call('PUBSUB', 'NUMSUB', 'AzureRedisEvents')) as [string, number])[1];
    const { daemon, value, text } = await start(parse(yaml({ targets: [t('plain')] })));
    assert.ok(!(await text()).includes('redis_probe_maintenance_events_total{'), 'no maintenance series without maintenanceEvents');
    await daemon.applyConfig(parse(yaml({ targets: [t('plain'), t('azure', ', maintenanceEvents: true')] })));
    await waitFor(async () => (await numsub()) === 1, { message: 'the reload-added target to subscribe' });
    await server.call(
      'PUBLISH',
      'AzureRedisEvents',
      'NotificationType|NodeMaintenanceStarting|StartTimeInUTC|2025-06-01T02:00:00|IsReplica|False|IPAddress||SSLPort|15001|NonSSLPort|13001',
    );
    await waitFor(async () => (await value('redis_probe_maintenance_in_progress', { target: 'azure' })) === 1);
    assert.equal(await value('redis_probe_maintenance_events_total', { target: 'azure', event: 'starting' }), 1);
    assert.equal(
      await value('redis_probe_maintenance_events_total', { target: 'azure', event: 'malformed' }),
      undefined,
      'at the default detail an event type appears with its first notification',
    );
    assert.equal((await promtoolCheckMetrics(await text())).code, 0);
    await daemon.applyConfig(parse(yaml({ targets: [t('plain')] })));
    await waitFor(async () => (await numsub()) === 0, { message: 'the removed target to unsubscribe' });
    assert.ok(!(await text()).includes('target="azure"'));
    await daemon.stop();
  });

  it('probes only its own shard, and a reload that changes the shard moves targets', async () => {
    const names = Array.from({ length: 12 }, (_, index) => `cache-${index}`);
    const text = yaml({ targets: names.map((name) => t(name)) });
    const { daemon, value } = await start(parse(text, { REDIS_PROBE_SHARD_INDEX: '1', REDIS_PROBE_SHARD_COUNT: '2' }));
    const exported = async () => {
      const list: string[] = [];
      for (const name of names) if ((await value('redis_probe_cycles_total', { target: name })) !== undefined) list.push(name);
      return list;
    };
    assert.deepEqual(
      await exported(),
      names.filter((name) => shardOf(name, 2) === 1),
      'other shards export nothing',
    );
    await daemon.applyConfig(parse(text, { REDIS_PROBE_SHARD_INDEX: '1', REDIS_PROBE_SHARD_COUNT: '3' }));
    assert.deepEqual(
      await exported(),
      names.filter((name) => shardOf(name, 3) === 1),
    );
    await daemon.stop();
  });

  it("a reload racing stop() adds nothing behind the shutdown's back", async () => {
    const { daemon, text } = await start(parse(yaml({ targets: [t('racer')] })));
    const reload = daemon.applyConfig(parse(yaml({ targets: [t('racer'), t('late')] })));
    await daemon.stop();
    assert.equal(await reload, false, 'not applied: the daemon was stopping');
    assert.ok(!(await text()).includes('target="late"'));
    assert.equal(await daemon.reload(() => parse(yaml({ targets: [t('racer')] })), 'SIGHUP'), false, 'no reload after stop');
  });

  it('an exception while applying is logged, redacted, and counted: never swallowed', async () => {
    // Real node-cron, which refuses a schedule when its job starts. The config bypasses validation (which
    // refuses it earlier): it stands in for anything that throws part-way through applying.
    const steady = t('steady', ', credential: key');
    const { daemon, logger, value } = await start(parse(yaml({ targets: [steady] })), { tickSource: cronTickSource() });
    const valid = parse(yaml({ targets: [steady, t('fresh')] }));
    const broken: DaemonConfig = {
      ...valid,
      targets: valid.targets.map((target) => (target.name === 'fresh' ? { ...target, schedule: `${PASSWORD_1} * * * * *` } : target)),
    };
    assert.equal(await daemon.applyConfig(broken), false, 'resolves false, does not reject');
    const failed = logger.entries.filter((entry) => entry.message.startsWith('configuration reload failed'));
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.level, 'error');
    assert.match(failed[0]!.message, /part-way/, 'says that some of it may be in force');
    assert.deepEqual(failed[0]!.fields['trigger'], 'api');
    assert.match(String((failed[0]!.fields['issues'] as string[])[0]), /\[REDACTED\] is a invalid expression for second/);
    assert.ok(!JSON.stringify(logger.entries).includes(PASSWORD_1), 'the key never appears');
    assert.equal(await value('redis_probe_config_last_reload_successful'), 0);
    // The queue goes on: the next reload runs and is reported.
    assert.equal(await daemon.reload(() => parse(yaml({ targets: [steady], password: PASSWORD_2 })), 'SIGHUP'), true);
    assert.equal(await value('redis_probe_config_last_reload_successful'), 1);
    await daemon.stop();
  });

  it('a loader that throws something other than ConfigError still fails cleanly', async () => {
    const { daemon, logger } = await start(parse(yaml({ targets: [t('solid')] })));
    const { value } = { value: async () => sampleValue(await daemon.metrics.registry.metrics(), 'redis_probe_config_last_reload_successful') };
    assert.equal(
      await daemon.reload(() => {
        throw new Error('disk on fire');
      }, 'SIGHUP'),
      false,
    );
    const failed = logger.entries.find((entry) => entry.message.startsWith('configuration reload failed'));
    assert.deepEqual(failed?.fields['issues'], ['Error: disk on fire']);
    assert.equal(await value(), 0);
    // A ConfigError's issues are logged one by one rather than as one message.
    assert.equal(
      await daemon.reload(() => {
        throw new ConfigError(['a: first', 'b: second']);
      }, 'SIGHUP'),
      false,
    );
    assert.deepEqual(logger.entries.filter((entry) => entry.message.startsWith('configuration reload failed')).at(-1)?.fields['issues'], [
      'a: first',
      'b: second',
    ]);
    await daemon.stop();
  });
});
