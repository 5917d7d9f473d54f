import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenManager } from '../../src/credentials/token-manager.ts';
import { TokenRequestError } from '../../src/credentials/token-request.ts';
import type { TokenManager } from '../../src/credentials/token-manager.ts';
import type { AccessTokenResult, IdentityProvider } from '../../src/credentials/token-request.ts';
import type { BackoffPolicy } from '../../src/shared/backoff.ts';
import { createTargetProbe } from '../../src/probe/probe.ts';
import type { TargetProbe } from '../../src/probe/probe.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { targetConfig } from '../support/target-config.ts';
import { waitFor } from '../support/wait.ts';

// A target's cycles on a fake clock against a real redis-server, while its token endpoint fails past the
// token's expiry and then comes back: the first cycle after the return must be green again.
const SECOND = 1000;
const MIN = 60 * SECOND;
const INTERVAL_MS = 15 * SECOND;
const LIFETIME_MS = 10 * MIN;
const REQUEST_TIMEOUT_MS = 5 * SECOND;
const STEP_TIMEOUT_MS = 2 * SECOND;
/** The defaults of `retry`: 1 s doubling to 1 minute. */
const BACKOFF: BackoffPolicy = { initialMs: SECOND, maxMs: MIN, multiplier: 2, jitter: 'none' };
const USER = 'entra-principal';

type Fault = 'down' | 'garbage' | 'slow';
type Mode = 'ok' | Fault;

/** The token endpoint as a manager sees it: numbered tokens while up, the given fault otherwise. */
function scriptedEndpoint(clock: FakeClock, prefix: string) {
  let mode: Mode = 'ok';
  let issued = 0;
  const callsAtMs: number[] = [];
  const provider: IdentityProvider = {
    requestToken() {
      callsAtMs.push(clock.now());
      switch (mode) {
        case 'ok':
          issued += 1;
          return Promise.resolve({ token: `${prefix}-token-${issued}`, expiresAtMs: clock.now() + LIFETIME_MS });
        case 'down':
          return Promise.reject(new TokenRequestError('token endpoint answered 503', { kind: 'http', isRetryable: true, httpStatus: 503 }));
        case 'garbage':
          // What a proxy's HTML error page parses to: no token, no expiry.
          return Promise.resolve({ token: '<html>bad gateway</html>', expiresAtMs: Number.NaN } satisfies AccessTokenResult);
        case 'slow':
          return new Promise<AccessTokenResult>(() => undefined);
      }
    },
  };
  return {
    provider,
    callsAtMs,
    setMode(next: Mode) {
      mode = next;
    },
  };
}

let redis: RedisServer;
const closers: (() => unknown)[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const close of closers) await close();
  await redis?.stop();
});

interface Scenario {
  readonly clock: FakeClock;
  readonly manager: TokenManager;
  readonly probe: TargetProbe;
  readonly endpoint: ReturnType<typeof scriptedEndpoint>;
  lost: number;
}

async function scenario(fault: Fault): Promise<Scenario> {
  // Redis stands in for Azure: the principal's passwords are the tokens the endpoint will hand out.
  const passwords = Array.from({ length: 5 }, (_, index) => `>${fault}-token-${index + 1}`);
  await redis.cli('ACL', 'SETUSER', USER, 'reset', 'on', ...passwords, '+@all', '~*', '&*');
  const clock = new FakeClock();
  const endpoint = scriptedEndpoint(clock, fault);
  const manager = createTokenManager({
    name: fault,
    provider: endpoint.provider,
    clock,
    random: () => 0.5,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    backoff: BACKOFF,
    username: USER,
  });
  manager.start();
  await manager.ready();
  const probe = createTargetProbe(targetConfig({ name: `target-${fault}`, port: redis.port, timeoutMs: STEP_TIMEOUT_MS }), {
    clock,
    credential: manager,
    instanceId: 'recovery',
    randomValue: () => `value-${clock.now()}`,
    redactor: createSecretRedactor(),
  });
  closers.push(
    () => probe.close(),
    () => manager.close(),
  );
  const state: Scenario = { clock, manager, probe, endpoint, lost: 0 };
  probe.onConnectionLost(() => {
    state.lost += 1;
  });
  return state;
}

/**
 * Runs one cycle at `atMs` on the fake clock. While the endpoint is failing no token can arrive, so no
 * Redis command can be in flight: the clock may then run on through a cycle that waits for a token.
 */
async function cycleAt(s: Scenario, atMs: number, endpointFailing: boolean): Promise<CycleResult> {
  await s.clock.advanceAsync(atMs - s.clock.monotonicMs());
  const running = s.probe.runCycle('schedule');
  if (endpointFailing) await s.clock.advanceAsync(STEP_TIMEOUT_MS);
  return running;
}

describe('token recovery: a target is green again within one cycle of the token endpoint coming back', { timeout: 60_000 }, () => {
  for (const fault of ['down', 'garbage', 'slow'] as const) {
    it(`after a ${fault} endpoint outlasted the token`, async () => {
      const s = await scenario(fault);
      const first = await cycleAt(s, 0, false);
      assert.equal(first.success, true, JSON.stringify(first.failure));

      s.endpoint.setMode(fault);
      // Refreshes fail from 5 minutes before expiry on; then the token expires and, as Azure does, the
      // cache closes the connection that used it.
      await s.clock.advanceAsync(LIFETIME_MS);
      assert.throws(() => s.manager.current(), /expired/);
      await redis.cli('CLIENT', 'KILL', 'USER', USER);
      await waitFor(() => s.lost > 0, { message: 'the probe never saw its connection close' });

      // Cycles while the endpoint is still failing are red, with reason token.
      for (const atMs of [LIFETIME_MS + INTERVAL_MS, LIFETIME_MS + 2 * INTERVAL_MS]) {
        const red = await cycleAt(s, atMs, true);
        assert.deepEqual([red.success, red.failure?.step, red.failure?.reason], [false, 'auth', 'token']);
      }

      // The endpoint comes back between two cycles.
      const returnedAtMs = LIFETIME_MS + 2 * INTERVAL_MS + 10 * SECOND;
      await s.clock.advanceAsync(returnedAtMs - s.clock.monotonicMs());
      s.endpoint.setMode('ok');
      const nextCycleAtMs = LIFETIME_MS + 3 * INTERVAL_MS;
      const green = await cycleAt(s, nextCycleAtMs, false);
      assert.equal(green.success, true, `the first cycle after the return failed: ${JSON.stringify(green.failure)}`);
      assert.equal(s.manager.current().password, `${fault}-token-2`);
      const startMs = Date.UTC(2025, 0, 1);
      const attemptsAfterReturn = s.endpoint.callsAtMs.filter((at) => at - startMs > returnedAtMs);
      assert.ok(attemptsAfterReturn.length > 0 && attemptsAfterReturn[0]! - startMs <= nextCycleAtMs, 'a token request within one interval of the return');
    });
  }
});

describe('a probe closed while its cycle waits for a token', { timeout: 30_000 }, () => {
  it('opens no connection when the token arrives after close()', async () => {
    await redis.cli('ACL', 'SETUSER', USER, 'reset', 'on', '>late-token', '+@all', '~*', '&*');
    const clock = new FakeClock();
    const answers: ((result: AccessTokenResult) => void)[] = [];
    const manager = createTokenManager({
      name: 'late',
      provider: { requestToken: () => new Promise<AccessTokenResult>((resolve) => answers.push(resolve)) },
      clock,
      random: () => 0.5,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      backoff: BACKOFF,
      username: USER,
    });
    manager.start();
    const probe = createTargetProbe(targetConfig({ name: 'target-late', port: redis.port, timeoutMs: STEP_TIMEOUT_MS }), {
      clock,
      credential: manager,
      instanceId: 'late',
      randomValue: () => 'value',
      redactor: createSecretRedactor(),
    });
    closers.push(() => manager.close());
    const cycle = probe.runCycle('schedule');
    await probe.close();
    answers[0]!({ token: 'late-token', expiresAtMs: clock.now() + LIFETIME_MS });
    const result = await cycle;
    assert.equal(result.success, false);
    const clients = await redis.cli('CLIENT', 'LIST');
    assert.ok(!clients.includes('target-late'), `a connection outlived close():\n${clients}`);
  });
});
