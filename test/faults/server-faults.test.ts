import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { CredentialConfig } from '../../src/config/types.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer, RedisServerOptions } from '../support/redis-server.ts';
import { sampleValue } from '../support/prometheus-text.ts';
import { waitFor } from '../support/wait.ts';
import {
  activeResources,
  adminConnection,
  assertHealthyNeighbours,
  assertResourcesReturned,
  CYCLE_MS,
  cycleEntries,
  exerciseFault,
  faultConfig,
  faultTarget,
  formatRows,
  HEALTHY_TARGETS,
  killProbeConnection,
  SLACK_MS,
  startDaemon,
  successOf,
  watchProcessFaults,
} from './support.ts';
import type { DaemonHarness, FaultRow } from './support.ts';

// Faults on the server side: a paused, killed, sleeping, busy, full or demoted redis-server, a killed connection,
// revoked permissions and passwords changed underneath. Each target has its own server unless noted.
const TIMEOUT_MS = 400;
const DEFAULT_PASSWORD = 'requirepass-old-Vb81';
const ROTATING_PASSWORD = 'acl-rotating-old-Qw52';
const PERM_PASSWORD = 'acl-perm-Hy27';

const processFaults = watchProcessFaults();
const servers = new Map<string, RedisServer>();
const admins: Redis[] = [];
const rows: FaultRow[] = [];
let harness: DaemonHarness;
let baseline: Map<string, number>;
let startedAtMs: number;

async function server(name: string, options: RedisServerOptions = {}): Promise<RedisServer> {
  const started = await startRedis(options);
  servers.set(name, started);
  return started;
}
const serverOf = (name: string): RedisServer => servers.get(name)!;
async function admin(name: string): Promise<Redis> {
  const client = await adminConnection(serverOf(name).clientOptions());
  admins.push(client);
  return client;
}

let aclAdmin: Redis;
const adminOf = new Map<string, Redis>();

before(async () => {
  await Promise.all([
    server('healthy'),
    server('pause'),
    server('kill'),
    server('sleep'),
    server('busy', { extraArgs: ['--busy-reply-threshold', '100'] }),
    server('clientkill'),
    server('oom'),
    server('replica'),
    server('master'),
    server('acl', {
      password: DEFAULT_PASSWORD,
      aclUsers: [
        { name: 'perm', password: PERM_PASSWORD, rules: '+@all ~* &*' },
        { name: 'rotating', password: ROTATING_PASSWORD, rules: '+@all ~* &*' },
      ],
    }),
  ]);
  for (const name of ['sleep', 'busy', 'clientkill', 'oom', 'replica']) adminOf.set(name, await admin(name));
  aclAdmin = await admin('acl');
  baseline = activeResources();
  const credentials: CredentialConfig[] = [
    { type: 'access-key', name: 'default-user', password: DEFAULT_PASSWORD },
    { type: 'access-key', name: 'perm-user', username: 'perm', password: PERM_PASSWORD },
    { type: 'access-key', name: 'rotating-user', username: 'rotating', password: ROTATING_PASSWORD },
  ];
  const acl = serverOf('acl').port;
  const targets = [
    ...HEALTHY_TARGETS.map((name) => faultTarget(name, serverOf('healthy').port)),
    ...['pause', 'kill', 'sleep', 'busy', 'clientkill', 'oom', 'replica'].map((name) =>
      faultTarget(`srv-${name}`, serverOf(name).port, { timeoutMs: TIMEOUT_MS }),
    ),
    faultTarget('srv-noperm', acl, { credential: 'perm-user', timeoutMs: TIMEOUT_MS }),
    faultTarget('srv-unsupported', acl, { credential: 'perm-user', timeoutMs: TIMEOUT_MS }),
    faultTarget('srv-requirepass', acl, { credential: 'default-user', timeoutMs: TIMEOUT_MS }),
    faultTarget('srv-aclpass', acl, { credential: 'rotating-user', timeoutMs: TIMEOUT_MS }),
  ];
  harness = await startDaemon(faultConfig(targets, credentials));
  startedAtMs = performance.now();
});

after(async () => {
  await harness?.stop();
  for (const client of admins) client.disconnect();
  for (const started of servers.values()) started.resume();
  await Promise.all([...servers.values()].map((started) => started.stop()));
  processFaults.dispose();
});

const call =
  (name: string, ...args: string[]) =>
  () =>
    adminOf
      .get(name)!
      .call(args[0]!, ...args.slice(1))
      .then(() => undefined);

describe('server-side faults are reported by step and reason, and healed without a restart', { timeout: 150_000 }, () => {
  it('SIGSTOP: ping/timeout; SIGCONT heals', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'SIGSTOP / SIGCONT',
        target: 'srv-pause',
        step: 'ping',
        reason: 'timeout',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: async () => serverOf('pause').pause(),
        remove: async () => serverOf('pause').resume(),
      }),
    );
  });

  it('SIGKILL: connect/connection_refused at once; a restart on the same port heals', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'SIGKILL, restart on the same port',
        target: 'srv-kill',
        step: 'connect',
        reason: 'connection_refused',
        racingReason: 'connection_reset',
        timeoutMs: TIMEOUT_MS,
        inject: () => serverOf('kill').kill(),
        remove: () => serverOf('kill').restart(),
      }),
    );
  });

  it('DEBUG SLEEP 3: ping/timeout, healed when the server wakes', async () => {
    let sleeping: Promise<unknown> = Promise.resolve();
    rows.push(
      await exerciseFault(harness, {
        fault: 'DEBUG SLEEP 3 (timeout 400 ms)',
        target: 'srv-sleep',
        step: 'ping',
        reason: 'timeout',
        timeoutMs: TIMEOUT_MS,
        laterSteps: ['connect'],
        inject: async () => {
          sleeping = adminOf.get('sleep')!.call('DEBUG', 'SLEEP', '3');
        },
        remove: async () => {
          await sleeping;
        },
      }),
    );
  });

  it('a script that never returns: ping/busy; SCRIPT KILL heals', async () => {
    const blocker = await admin('busy');
    let script: Promise<unknown> = Promise.resolve();
    rows.push(
      await exerciseFault(harness, {
        fault: 'endless Lua script (BUSY)',
        target: 'srv-busy',
        step: 'ping',
        reason: 'busy',
        timeoutMs: TIMEOUT_MS,
        inject: async () => {
          script = blocker.call('EVAL', 'while true do end', '0').catch((error: unknown) => error);
          // The BUSY reply starts once the script has run for busy-reply-threshold (100 ms).
          await new Promise((resolve) => setTimeout(resolve, 150));
        },
        remove: async () => {
          await adminOf.get('busy')!.call('SCRIPT', 'KILL');
          assert.match(String(await script), /Script killed/);
          blocker.disconnect();
        },
      }),
    );
  });

  it('CLIENT KILL of the probe connection: reconnects at once (trigger connection_lost), no failure', async () => {
    const target = 'srv-clientkill';
    const syncMs = performance.now();
    await waitFor(() => cycleEntries(harness.logger.entries, target, syncMs).some((cycle) => cycle.ok), { timeoutMs: 3 * CYCLE_MS, intervalMs: 5 });
    const killedAtMs = performance.now();
    await killProbeConnection(adminOf.get('clientkill')!, target);
    const reconnect = await waitFor(() => cycleEntries(harness.logger.entries, target, killedAtMs).find((cycle) => cycle.trigger === 'connection_lost'), {
      timeoutMs: 500,
      intervalMs: 5,
      message: 'a cycle triggered by the lost connection, well before the next tick',
    });
    const detectedMs = reconnect.atMs - killedAtMs;
    assert.equal(reconnect.ok, true, `${reconnect.step}/${reconnect.reason}: ${reconnect.error}`);
    assert.ok('connect' in reconnect.steps, 'the lost connection is replaced');
    assert.deepEqual(
      cycleEntries(harness.logger.entries, target, killedAtMs).filter((cycle) => !cycle.ok),
      [],
    );
    assert.equal(successOf(await harness.scrape(), target), 1);
    rows.push({ fault: 'CLIENT KILL (between cycles)', target, observed: 'no failure: reconnect cycle (connection_lost)', detectedMs, recoveredMs: 0 });
  });

  it('maxmemory reached with noeviction: set/oom', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'maxmemory 1 byte, noeviction',
        target: 'srv-oom',
        step: 'set',
        reason: 'oom',
        timeoutMs: TIMEOUT_MS,
        inject: async () => {
          await call('oom', 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')();
          await call('oom', 'CONFIG', 'SET', 'maxmemory', '1')();
        },
        remove: call('oom', 'CONFIG', 'SET', 'maxmemory', '0'),
      }),
    );
  });

  it('demoted to a replica: set/readonly; REPLICAOF NO ONE heals', async () => {
    const master = serverOf('master');
    rows.push(
      await exerciseFault(harness, {
        fault: 'REPLICAOF another server',
        target: 'srv-replica',
        step: 'set',
        reason: 'readonly',
        timeoutMs: TIMEOUT_MS,
        inject: call('replica', 'REPLICAOF', master.host, String(master.port)),
        remove: call('replica', 'REPLICAOF', 'NO', 'ONE'),
      }),
    );
  });

  it('ACL user loses SET: set/noperm', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'ACL SETUSER -set',
        target: 'srv-noperm',
        step: 'set',
        reason: 'noperm',
        timeoutMs: TIMEOUT_MS,
        inject: () => aclAdmin.call('ACL', 'SETUSER', 'perm', '-set').then(() => undefined),
        remove: () => aclAdmin.call('ACL', 'SETUSER', 'perm', '+set').then(() => undefined),
      }),
    );
  });

  it('ACL user loses CLIENT: client_list reported unsupported, not a failure', async () => {
    const target = 'srv-unsupported';
    const supported = (text: string) => sampleValue(text, 'redis_probe_step_supported', { target, step: 'client_list' });
    const failures = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('redis_probe_cycle_failures_total{') && line.includes(`target="${target}"`))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    await waitFor(async () => successOf(await harness.scrape(), target) === 1, { timeoutMs: 3 * CYCLE_MS });
    const before = failures(await harness.scrape());
    const revokedAtMs = performance.now();
    await aclAdmin.call('ACL', 'SETUSER', 'perm', '-client');
    // The user is shared with srv-noperm, which must not notice: CLIENT LIST is optional for it too.
    await waitFor(async () => supported(await harness.scrape()) === 0, { timeoutMs: CYCLE_MS + TIMEOUT_MS + SLACK_MS, message: 'client_list unsupported' });
    const detectedMs = performance.now() - revokedAtMs;
    await waitFor(() => cycleEntries(harness.logger.entries, target, revokedAtMs).length >= 2, { timeoutMs: 2 * (CYCLE_MS + SLACK_MS) });
    const text = await harness.scrape();
    assert.equal(successOf(text, target), 1, 'still up');
    assert.equal(failures(text), before, 'no failure counted');
    assert.ok(cycleEntries(harness.logger.entries, target, revokedAtMs).every((cycle) => cycle.ok));
    assert.ok(harness.logger.entries.some((entry) => entry.message.startsWith('step refused by the server') && entry.fields.target === target));
    await aclAdmin.call('ACL', 'SETUSER', 'perm', '+client');
    const restoredAtMs = performance.now();
    await waitFor(async () => supported(await harness.scrape()) === 1, { timeoutMs: CYCLE_MS + TIMEOUT_MS + SLACK_MS, message: 'client_list supported again' });
    rows.push({
      fault: 'ACL SETUSER -client',
      target,
      observed: 'no failure: step_supported{client_list}=0',
      detectedMs,
      recoveredMs: performance.now() - restoredAtMs,
    });
  });

  it('requirepass changed underneath: auth/auth once the connection is re-made', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'requirepass changed + CLIENT KILL',
        target: 'srv-requirepass',
        step: 'auth',
        reason: 'auth',
        timeoutMs: TIMEOUT_MS,
        inject: async () => {
          await aclAdmin.call('CONFIG', 'SET', 'requirepass', 'requirepass-new-Lm40');
          // An authenticated connection stays logged in; only the next one meets the new password.
          await killProbeConnection(aclAdmin, 'srv-requirepass');
        },
        remove: () => aclAdmin.call('CONFIG', 'SET', 'requirepass', DEFAULT_PASSWORD).then(() => undefined),
      }),
    );
  });

  it('ACL password rotated underneath: auth/auth once the connection is re-made', async () => {
    rows.push(
      await exerciseFault(harness, {
        fault: 'ACL password changed + CLIENT KILL',
        target: 'srv-aclpass',
        step: 'auth',
        reason: 'auth',
        timeoutMs: TIMEOUT_MS,
        inject: async () => {
          await aclAdmin.call('ACL', 'SETUSER', 'rotating', 'resetpass', '>acl-rotating-new-Tc93');
          await killProbeConnection(aclAdmin, 'srv-aclpass');
        },
        remove: () => aclAdmin.call('ACL', 'SETUSER', 'rotating', 'resetpass', `>${ROTATING_PASSWORD}`).then(() => undefined),
      }),
    );
  });

  it('kept the healthy neighbours fast and green, crashed nothing, leaked no secret and left no handles behind', async (t) => {
    const endedAtMs = performance.now();
    t.diagnostic(assertHealthyNeighbours(harness.logger, startedAtMs, endedAtMs));
    for (const line of formatRows(rows)) t.diagnostic(line);
    assert.equal(rows.length, 11);
    const seen = `${JSON.stringify(harness.logger.entries)}\n${await harness.scrape()}`;
    for (const secret of [DEFAULT_PASSWORD, ROTATING_PASSWORD, PERM_PASSWORD, 'requirepass-new-Lm40', 'acl-rotating-new-Tc93']) {
      assert.ok(!seen.includes(secret), 'no password in any log entry or metric');
    }
    await harness.stop();
    t.diagnostic(await assertResourcesReturned(baseline));
    processFaults.assertNone();
  });
});
