import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/shared/clock.ts';
import type { TargetConfig } from '../../src/config/types.ts';
import type { Credential, RedisAuth } from '../../src/credentials/credential.ts';
import { createMaintenanceMonitor } from '../../src/maintenance/maintenance-monitor.ts';
import type { MaintenanceMonitor } from '../../src/maintenance/maintenance-monitor.ts';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { ProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { targetConfig } from '../support/target-config.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import { waitFor } from '../support/wait.ts';
import { capturingLogger } from '../support/capturing-logger.ts';

const CHANNEL = 'AzureRedisEvents';
const PASSWORD_1 = 'first-secret-Hk29fQ';
const PASSWORD_2 = 'second-secret-Wm83tZ';

/** Realistic messages, in the order a planned update sends them. */
const at = '2025-06-01T02:00:00';
const message = (type: string, extra = '') => `NotificationType|${type}|StartTimeInUTC|${at}|IsReplica|False|IPAddress||SSLPort|15001|NonSSLPort|13001${extra}`;

/** A credential the test rotates by hand, like the Entra token manager does on refresh. */
function rotatingCredential(initial: RedisAuth) {
  let auth = initial;
  const listeners = new Set<(next: RedisAuth) => void>();
  const credential: Credential = {
    name: 'rotating',
    current: () => auth,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready: () => Promise.resolve(),
    close: () => undefined,
  };
  return {
    credential,
    rotate(next: RedisAuth) {
      auth = next;
      for (const listener of listeners) listener(next);
    },
    listeners: () => listeners.size,
  };
}

const servers: RedisServer[] = [];
const monitors: MaintenanceMonitor[] = [];
after(async () => {
  for (const monitor of monitors) monitor.close();
  await Promise.all(servers.map((server) => server.stop()));
});

function watch(target: TargetConfig, options: { credential?: Credential } = {}) {
  const metrics: ProbeMetrics = createProbeMetrics({ version: 'test', defaultMetrics: false });
  const logger = capturingLogger();
  const redactor = createSecretRedactor();
  for (const secret of [PASSWORD_1, PASSWORD_2]) redactor.add(secret);
  const monitor = createMaintenanceMonitor(target, {
    clock: systemClock,
    logger,
    redactor,
    instanceId: 'test',
    sink: metrics.registerMaintenance(target.name),
    initialDelayMs: 50,
    maxDelayMs: 200,
    // The middle of the jitter range: the delays are the exponential ones exactly.
    random: () => 0.5,
    ...(options.credential ? { credential: options.credential } : {}),
  });
  monitors.push(monitor);
  const count = async (event: string) => sampleValue(await metrics.registry.metrics(), 'redis_probe_maintenance_events_total', { target: target.name, event });
  const inProgress = async () => sampleValue(await metrics.registry.metrics(), 'redis_probe_maintenance_in_progress', { target: target.name });
  return { monitor, logger, metrics, count, inProgress };
}

const subscribers = async (server: RedisServer): Promise<number> => {
  const reply = (await server.call('PUBSUB', 'NUMSUB', CHANNEL)) as [string, number];
  return reply[1];
};

/** PUBLISH and insist that exactly one subscriber received it (the monitor's). */
async function publish(server: RedisServer, text: string): Promise<void> {
  assert.equal(await server.call('PUBLISH', CHANNEL, text), 1, 'exactly one subscriber received the message');
}

/** How many AUTH commands the server has run (successful or not). */
async function authCalls(server: RedisServer): Promise<number> {
  const stats = await server.cli('INFO', 'commandstats');
  return Number(/^cmdstat_auth:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
}

/** The `events` connections in CLIENT LIST: id per connection. */
async function eventConnections(server: RedisServer): Promise<string[]> {
  const list = await server.cli('CLIENT', 'LIST');
  return list
    .split('\n')
    .filter((line) => / name=redis-probe:test:[^ ]+:events /.test(line))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? '?');
}

describe('maintenance notifications on a real redis-server', { timeout: 60_000 }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ aclUsers: [{ name: 'prober', password: PASSWORD_1, rules: `>${PASSWORD_2} +@all ~* &*` }] });
    servers.push(server);
  });

  it('counts a planned update end to end and tracks maintenance in progress', async () => {
    const { monitor, count, inProgress, logger } = watch(targetConfig({ name: 'plain', port: server.port }));
    assert.equal(await count('starting'), undefined, 'at the default detail an event type appears with its first notification');
    assert.equal(await inProgress(), 0);
    monitor.start();
    await waitFor(async () => (await subscribers(server)) === 1, { message: 'the monitor to subscribe' });

    await publish(server, message('NodeMaintenanceScheduled'));
    await publish(server, message('NodeMaintenanceStarting'));
    await waitFor(async () => (await inProgress()) === 1, { message: 'maintenance in progress' });
    await publish(server, message('NodeMaintenanceStart'));
    await publish(server, message('NodeMaintenanceFailover'));
    await publish(server, message('NodeMaintenanceFailoverComplete'));
    await publish(server, message('NodeMaintenanceScaleComplete'));
    await publish(server, message('NodeMaintenanceEnded'));
    await waitFor(async () => (await count('ended')) === 1, { message: 'Ended to be counted' });
    assert.equal(await inProgress(), 0);
    for (const [event, expected] of Object.entries({
      scheduled: 1,
      starting: 1,
      start: 1,
      failover_complete: 2,
      scale_complete: 1,
      ended: 1,
      unknown: undefined,
      malformed: undefined,
    })) {
      assert.equal(await count(event), expected, event);
    }
    const notifications = logger.entries.filter((entry) => entry.message === 'maintenance notification');
    assert.equal(notifications.length, 7);
    assert.deepEqual(notifications[1]?.fields, {
      target: 'plain',
      channel: CHANNEL,
      event: 'starting',
      notificationType: 'NodeMaintenanceStarting',
      startTime: '2025-06-01T02:00:00.000Z',
      isReplica: false,
      sslPort: 15001,
      nonSslPort: 13001,
    });
    assert.ok(logger.entries.some((entry) => entry.message === 'planned maintenance in progress'));
    assert.ok(logger.entries.some((entry) => entry.message === 'planned maintenance ended'));
    monitor.close();
    await waitFor(async () => (await subscribers(server)) === 0, { message: 'close() to unsubscribe' });
  });

  it('counts and logs unknown and malformed messages and keeps going', async () => {
    const { monitor, count, logger } = watch(targetConfig({ name: 'odd', port: server.port }));
    monitor.start();
    await waitFor(async () => (await subscribers(server)) === 1);
    await publish(server, 'NotificationType|NodeMaintenanceTeleported|Extra|1');
    await publish(server, 'this is not a notification');
    await publish(server, '');
    await publish(server, 'IsReplica|True');
    await publish(server, message('NodeMaintenanceScheduled'));
    await waitFor(async () => (await count('scheduled')) === 1, { message: 'the valid message after the bad ones' });
    assert.equal(await count('unknown'), 1);
    assert.equal(await count('malformed'), 3);
    const unknown = logger.entries.find((entry) => entry.message === 'unknown maintenance notification type');
    assert.equal(unknown?.level, 'warn');
    assert.equal(unknown?.fields['notificationType'], 'NodeMaintenanceTeleported');
    const malformed = logger.entries.filter((entry) => entry.message === 'malformed maintenance notification ignored');
    assert.deepEqual(
      malformed.map((entry) => entry.fields['raw']),
      ['this is not a notification', '', 'IsReplica|True'],
    );
    monitor.close();
  });

  it('resubscribes after the server restarts, with backoff, and counts what comes after', async () => {
    const restartable = await startRedis();
    servers.push(restartable);
    const { monitor, count, logger } = watch(targetConfig({ name: 'restart', port: restartable.port }));
    monitor.start();
    await waitFor(async () => (await subscribers(restartable)) === 1);
    await publish(restartable, message('NodeMaintenanceStarting'));
    await restartable.restart();
    await waitFor(async () => (await subscribers(restartable)) === 1, { timeoutMs: 10_000, message: 'the monitor to resubscribe' });
    await publish(restartable, message('NodeMaintenanceEnded'));
    await waitFor(async () => (await count('ended')) === 1);
    assert.equal(await count('starting'), 1);
    assert.ok(logger.entries.some((entry) => entry.message === 'maintenance subscription lost; resubscribing'));
    const subscribed = logger.entries.filter((entry) => entry.message === 'subscribed to maintenance notifications').map((entry) => entry.fields['reason']);
    assert.deepEqual([subscribed[0], subscribed.at(-1)], ['start', 'reconnect']);
    const failures = logger.entries.filter((entry) => entry.message === 'maintenance subscription failed; retrying');
    const delays = failures.map((entry) => Number(entry.fields['retryInMs']));
    assert.ok(
      delays.every((delay, index) => index === 0 || delay >= (delays[index - 1] ?? 0)),
      `delays never shrink: ${delays.join(', ')}`,
    );
    assert.ok(
      delays.every((delay) => delay <= 200),
      'bounded by maxDelayMs',
    );
    monitor.close();
  });

  it('recycles the subscriber with the new secret when the credential rotates, and never AUTHs a subscriber', async () => {
    const rotating = rotatingCredential({ username: 'prober', password: PASSWORD_1 });
    const { monitor, count, logger } = watch(targetConfig({ name: 'rotate', port: server.port }), { credential: rotating.credential });
    monitor.start();
    await waitFor(async () => (await eventConnections(server)).length === 1, { message: 'the subscriber to connect as prober' });
    const [before] = await eventConnections(server);
    const authsBefore = await authCalls(server);
    // Revoke the first secret: only a connection that AUTHs with the second can subscribe now.
    await server.call('ACL', 'SETUSER', 'prober', `<${PASSWORD_1}`);
    rotating.rotate({ username: 'prober', password: PASSWORD_2 });
    await waitFor(
      async () => {
        const ids = await eventConnections(server);
        return ids.length === 1 && ids[0] !== before;
      },
      { message: 'a new subscriber to replace the old one' },
    );
    assert.equal(await subscribers(server), 1, 'the old subscriber is gone');
    assert.equal(await authCalls(server), authsBefore + 1, 'one AUTH, on the new connection before it subscribed');
    await publish(server, message('NodeMaintenanceScheduled'));
    await waitFor(async () => (await count('scheduled')) === 1);
    const reasons = logger.entries.filter((entry) => entry.message === 'subscribed to maintenance notifications').map((entry) => entry.fields['reason']);
    assert.deepEqual(reasons, ['start', 'credential_change']);
    assert.ok(!JSON.stringify(logger.entries).includes(PASSWORD_1) && !JSON.stringify(logger.entries).includes(PASSWORD_2), 'no secret in any log entry');
    monitor.close();
    assert.equal(rotating.listeners(), 0, 'close() unsubscribes from the credential');
    await server.call('ACL', 'SETUSER', 'prober', `>${PASSWORD_1}`);
  });

  it('retries with backoff while the secret is refused, and subscribes once a valid one arrives', async () => {
    const rotating = rotatingCredential({ username: 'prober', password: 'not-the-password-9' });
    const { monitor, count, logger } = watch(targetConfig({ name: 'refused', port: server.port }), { credential: rotating.credential });
    monitor.start();
    await waitFor(() => logger.entries.filter((entry) => entry.message === 'maintenance subscription failed; retrying').length >= 2, {
      message: 'two failed attempts',
    });
    assert.match(String(logger.entries.find((entry) => entry.message === 'maintenance subscription failed; retrying')?.fields['error']), /WRONGPASS/);
    rotating.rotate({ username: 'prober', password: PASSWORD_1 });
    await waitFor(async () => (await subscribers(server)) === 1, { message: 'a subscription with the valid secret' });
    await publish(server, message('NodeMaintenanceStart'));
    await waitFor(async () => (await count('start')) === 1);
    monitor.close();
  });

  it("subscribes over TLS with the target's CA and server name", async () => {
    const certs = await generateTlsCerts(await mkdtemp(join(tmpdir(), 'redis-probe-maint-tls-')));
    const tls = await startRedis({ tls: certs });
    servers.push(tls);
    const { monitor, count } = watch(
      targetConfig({ name: 'tls', host: 'localhost', port: tls.port, tls: { enabled: true, verify: true, ca: certs.ca.certPem } }),
    );
    monitor.start();
    await waitFor(async () => (await subscribers(tls)) === 1, { message: 'a TLS subscription' });
    await publish(tls, message('NodeMaintenanceStarting'));
    await waitFor(async () => (await count('starting')) === 1);
    monitor.close();
  });
});
