import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTokenManager } from '../../src/credentials/token-manager.ts';
import { TokenRequestError, requestWithTimeout, toTokenRequestError } from '../../src/credentials/token-request.ts';
import type { RefreshFailedEvent, TokenAcquiredEvent, TokenManager, TokenManagerOptions, TokenObserver } from '../../src/credentials/token-manager.ts';
import type { AccessTokenResult, IdentityProvider } from '../../src/credentials/token-request.ts';
import type { BackoffPolicy } from '../../src/shared/backoff.ts';
import { CredentialUnavailableError } from '../../src/credentials/credential.ts';
import type { RedisAuth } from '../../src/credentials/credential.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { makeFakeJwt } from '../support/fake-token-endpoint.ts';

const SECOND = 1000;
const MIN = 60 * SECOND;
const OID = '00000000-0000-0000-0000-0000000000aa';
const BACKOFF: BackoffPolicy = { initialMs: SECOND, maxMs: 30 * SECOND, multiplier: 2, jitter: 'none' };
const TIMEOUT_MS = 10 * SECOND;

/** One answer of the scripted provider. */
type Step =
  | { readonly kind: 'token'; readonly lifetimeMs: number; readonly oid?: string | null; readonly refreshAfterMs?: number }
  | { readonly kind: 'raw'; readonly result: AccessTokenResult }
  | { readonly kind: 'same' }
  | { readonly kind: 'fail'; readonly error: Error }
  | { readonly kind: 'hang' };

interface Call {
  readonly signal: AbortSignal | undefined;
  readonly startedAtMs: number;
}

/** A provider that answers from a script; the last step repeats. */
function scriptedProvider(clock: FakeClock, steps: Step[]) {
  const calls: Call[] = [];
  const issued: AccessTokenResult[] = [];
  let last: AccessTokenResult | undefined;
  const provider: IdentityProvider = {
    requestToken(options) {
      calls.push({ signal: options?.abortSignal, startedAtMs: clock.now() });
      const step = steps.length > 1 ? steps.shift()! : steps[0]!;
      switch (step.kind) {
        case 'token': {
          const claims: Record<string, unknown> = {
            iat: Math.floor(clock.now() / 1000),
            exp: Math.floor((clock.now() + step.lifetimeMs) / 1000),
          };
          if (step.oid !== null) claims['oid'] = step.oid ?? OID;
          last = {
            token: makeFakeJwt(claims),
            expiresAtMs: clock.now() + step.lifetimeMs,
            ...(step.refreshAfterMs !== undefined ? { refreshAfterMs: clock.now() + step.refreshAfterMs } : {}),
          };
          issued.push(last);
          return Promise.resolve(last);
        }
        case 'raw':
          return Promise.resolve(step.result);
        case 'same':
          assert.ok(last, 'script error: "same" before any token');
          return Promise.resolve(last);
        case 'fail':
          return Promise.reject(step.error);
        case 'hang':
          return new Promise<AccessTokenResult>(() => undefined);
      }
    },
  };
  return {
    provider,
    calls,
    issued,
    /** Replaces what happens from the next call on. */
    script(next: Step[]) {
      steps.splice(0, steps.length, ...next);
    },
  };
}

function unavailable(message = 'IMDS answered 503'): TokenRequestError {
  return new TokenRequestError(message, { kind: 'http', isRetryable: true, httpStatus: 503 });
}

/** Records every observer event and onChange call. */
function recorder() {
  const acquired: TokenAcquiredEvent[] = [];
  const failed: RefreshFailedEvent[] = [];
  const expired: string[] = [];
  const changes: RedisAuth[] = [];
  const observer: TokenObserver = {
    onTokenAcquired: (event) => acquired.push(event),
    onRefreshFailed: (event) => failed.push(event),
    onTokenExpired: (event) => expired.push(event.credential),
  };
  return { acquired, failed, expired, changes, observer };
}

function setup(steps: Step[], overrides: Partial<TokenManagerOptions> = {}) {
  const clock = new FakeClock();
  const script = scriptedProvider(clock, steps);
  const events = recorder();
  const manager = createTokenManager({
    name: 'cache-a',
    provider: script.provider,
    clock,
    random: () => 0.5,
    requestTimeoutMs: TIMEOUT_MS,
    backoff: BACKOFF,
    observer: events.observer,
    ...overrides,
  });
  manager.onChange((auth) => events.changes.push(auth));
  return { clock, manager, ...script, ...events };
}

async function startAndWait(manager: TokenManager): Promise<void> {
  manager.start();
  await manager.ready();
}

function assertUnavailable(manager: TokenManager, pattern: RegExp): void {
  assert.throws(
    () => manager.current(),
    (error: unknown) => {
      assert.ok(error instanceof CredentialUnavailableError, `expected CredentialUnavailableError, got ${String(error)}`);
      assert.match(error.message, /Entra credential "cache-a"/);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('createTokenManager', { timeout: 10_000 }, () => {
  it('acquires the first token on start and takes the username from the oid claim', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    assertUnavailable(t.manager, /not started/);
    await startAndWait(t.manager);

    const token = t.issued[0]!;
    assert.deepEqual(t.manager.current(), { username: OID, password: token.token });
    assert.deepEqual(t.changes, [{ username: OID, password: token.token }]);
    assert.equal(t.acquired.length, 1);
    assert.deepEqual(
      { ...t.acquired[0], durationMs: 0 },
      {
        credential: 'cache-a',
        expiresAtMs: token.expiresAtMs,
        principal: OID,
        durationMs: 0,
        renewed: false,
      },
    );
    // Next fetch 5 minutes before expiry.
    assert.equal(t.clock.nextTimerInMs(), 55 * MIN);
    t.manager.close();
  });

  it('a configured username wins over the oid, and opaque tokens work with it', async () => {
    const t = setup([{ kind: 'raw', result: { token: 'opaque-not-a-jwt', expiresAtMs: Date.UTC(2025, 0, 1, 1) } }], {
      username: 'probe-user',
    });
    await startAndWait(t.manager);
    assert.deepEqual(t.manager.current(), { username: 'probe-user', password: 'opaque-not-a-jwt' });
    assert.equal(t.acquired[0]!.principal, 'probe-user');
    t.manager.close();
  });

  it('a token with no oid and no configured username is an error that says to set username', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN, oid: null }]);
    await startAndWait(t.manager);
    assertUnavailable(t.manager, /no oid claim.*set `username`/);
    const failure = t.failed[0]!;
    assert.equal(failure.error.kind, 'no_principal');
    assert.equal(failure.error.isRetryable, false);
    // Not retryable: back off to the slowest cadence straight away.
    assert.equal(failure.nextRetryInMs, BACKOFF.maxMs);
    assert.equal(t.changes.length, 0);

    const opaque = setup([{ kind: 'raw', result: { token: 'opaque-token-value', expiresAtMs: Date.UTC(2025, 0, 1, 1) } }]);
    await startAndWait(opaque.manager);
    assertUnavailable(opaque.manager, /token is not a JWT.*set `username`/);
    assert.ok(!opaque.failed[0]!.error.message.includes('opaque-token-value'));
    t.manager.close();
    opaque.manager.close();
  });

  it('rotates tokens: every newer token fires onChange once, with renewed=true', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    await startAndWait(t.manager);
    await t.clock.advanceAsync(55 * MIN);
    await t.clock.advanceAsync(55 * MIN);
    assert.equal(t.calls.length, 3);
    assert.deepEqual(
      t.changes.map((auth) => auth.password),
      t.issued.map((token) => token.token),
    );
    assert.deepEqual(
      t.acquired.map((event) => event.renewed),
      [false, true, true],
    );
    assert.equal(t.manager.current().password, t.issued[2]!.token);
    assert.equal(t.expired.length, 0);
    t.manager.close();
  });

  it('refreshes short-lived tokens at half-life and honours refreshAfter', async () => {
    const short = setup([{ kind: 'token', lifetimeMs: 4 * MIN }]);
    await startAndWait(short.manager);
    assert.equal(short.clock.nextTimerInMs(), 2 * MIN);
    short.manager.close();

    const hinted = setup([{ kind: 'token', lifetimeMs: 24 * 60 * MIN, refreshAfterMs: 12 * 60 * MIN }]);
    await startAndWait(hinted.manager);
    assert.equal(hinted.clock.nextTimerInMs(), 12 * 60 * MIN);
    hinted.manager.close();

    const tuned = setup([{ kind: 'token', lifetimeMs: 60 * MIN }], { refreshBeforeExpiryMs: 15 * MIN });
    await startAndWait(tuned.manager);
    assert.equal(tuned.clock.nextTimerInMs(), 45 * MIN);
    tuned.manager.close();
  });

  it('first-token failure: ready() resolves, current() explains, retries with backoff, recovers', async () => {
    const t = setup([
      { kind: 'fail', error: unavailable() },
      { kind: 'fail', error: unavailable() },
      { kind: 'token', lifetimeMs: 60 * MIN },
    ]);
    await startAndWait(t.manager);
    assertUnavailable(t.manager, /has no token yet: IMDS answered 503/);
    assert.deepEqual(
      t.failed.map((e) => [e.attempt, e.nextRetryInMs, e.tokenStillValid]),
      [[1, 1000, false]],
    );

    await t.clock.advanceAsync(1000);
    assert.deepEqual(
      t.failed.map((e) => [e.attempt, e.nextRetryInMs]),
      [
        [1, 1000],
        [2, 2000],
      ],
    );
    assert.equal(t.changes.length, 0);
    await t.clock.advanceAsync(1999);
    assert.equal(t.calls.length, 2, 'no retry before the backoff delay');
    await t.clock.advanceAsync(1);
    assert.equal(t.calls.length, 3);
    assert.equal(t.manager.current().password, t.issued[0]!.token);
    assert.equal(t.changes.length, 1);
    assert.equal(t.acquired[0]!.renewed, false);
    t.manager.close();
  });

  it('a short outage while the token is valid costs nothing: no onChange until success', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    await startAndWait(t.manager);
    const first = t.issued[0]!.token;
    t.script([
      { kind: 'fail', error: unavailable() },
      { kind: 'fail', error: unavailable() },
      { kind: 'fail', error: unavailable() },
      { kind: 'token', lifetimeMs: 60 * MIN },
    ]);

    await t.clock.advanceAsync(55 * MIN);
    await t.clock.advanceAsync(1000 + 2000);
    assert.deepEqual(
      t.failed.map((e) => [e.attempt, e.nextRetryInMs, e.tokenStillValid, e.error.kind]),
      [
        [1, 1000, true, 'http'],
        [2, 2000, true, 'http'],
        [3, 4000, true, 'http'],
      ],
    );
    assert.equal(t.changes.length, 1);
    assert.equal(t.manager.current().password, first, 'the old token is still served');

    await t.clock.advanceAsync(4000);
    assert.equal(t.changes.length, 2);
    assert.equal(t.manager.current().password, t.issued[1]!.token);
    assert.equal(t.expired.length, 0);
    t.manager.close();
  });

  it('an outage past expiry: onTokenExpired, current() throws, retries back off to maxMs, then recovery', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 10 * MIN }]);
    await startAndWait(t.manager);
    const expiresAtMs = t.issued[0]!.expiresAtMs;
    t.script([{ kind: 'fail', error: unavailable('token endpoint down') }]);

    await t.clock.advanceAsync(10 * MIN - 1);
    assert.ok(t.failed.length > 0);
    assert.ok(t.failed.every((e) => e.tokenStillValid));
    assert.equal(t.expired.length, 0);
    t.manager.current();

    await t.clock.advanceAsync(1);
    assert.deepEqual(t.expired, ['cache-a']);
    assertUnavailable(t.manager, new RegExp(`token expired at ${new Date(expiresAtMs).toISOString()}; last refresh failed: token endpoint down`));

    // After expiry, retries go on backing off (by now at maxMs); cycles that need a token ask for one (demand).
    const before = t.failed.length;
    await t.clock.advanceAsync(2 * BACKOFF.maxMs);
    const afterExpiry = t.failed.slice(before);
    assert.ok(afterExpiry.length >= 1 && afterExpiry.length <= 2, `${afterExpiry.length} retries in 2 x maxMs`);
    for (const event of afterExpiry) {
      assert.equal(event.tokenStillValid, false);
      assert.equal(event.nextRetryInMs, BACKOFF.maxMs);
    }

    t.script([{ kind: 'token', lifetimeMs: 10 * MIN }]);
    await t.clock.advanceAsync(BACKOFF.maxMs);
    assert.equal(t.manager.current().password, t.issued[1]!.token);
    assert.equal(t.changes.length, 2);
    assert.equal(t.expired.length, 1);
    t.manager.close();
  });

  it('demand: with no usable token, an attempt at once, shared by every caller, attempts initialMs apart', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 10 * MIN }]);
    await startAndWait(t.manager);
    t.script([{ kind: 'fail', error: unavailable('token endpoint down') }]);
    await t.clock.advanceAsync(10 * MIN);
    assertUnavailable(t.manager, /token expired/);
    // Run the background retry due next, then let a few seconds pass: it is far off again.
    await t.clock.advanceAsync(t.clock.nextTimerInMs()!);
    await t.clock.advanceAsync(5 * SECOND);
    assert.ok(t.clock.nextTimerInMs()! > 5 * SECOND);

    const calls = t.calls.length;
    const failures = t.failed.length;
    const first = t.manager.demand();
    assert.equal(t.manager.demand(), first, 'callers share one attempt');
    assert.equal(t.calls.length, calls + 1, 'the attempt starts at once');
    await first;
    assert.equal(t.failed.length, failures + 1);

    // Asked again straight away: the attempt waits until initialMs after the last one, and is shared too.
    let settled = 0;
    void t.manager.demand().then(() => settled++);
    void t.manager.demand().then(() => settled++);
    assert.equal(t.calls.length, calls + 1);
    assert.equal(t.clock.nextTimerInMs(), BACKOFF.initialMs);
    t.script([{ kind: 'token', lifetimeMs: 10 * MIN }]);
    await t.clock.advanceAsync(BACKOFF.initialMs - 1);
    assert.equal(settled, 0);
    await t.clock.advanceAsync(1);
    assert.equal(settled, 2);
    assert.equal(t.calls.length, calls + 2);
    assert.equal(t.manager.current().password, t.issued[1]!.token);

    // A usable token: nothing to do.
    await t.manager.demand();
    assert.equal(t.calls.length, calls + 2);
    t.manager.close();
  });

  it('demand: an error that needs a human keeps the slow cadence; close() settles a waiting demand', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN, oid: null }]);
    await startAndWait(t.manager);
    assert.equal(t.failed[0]!.error.isRetryable, false);
    await t.clock.advanceAsync(10 * SECOND);
    await t.manager.demand();
    assert.equal(t.calls.length, 1, 'no attempt on demand');
    assert.equal(t.clock.nextTimerInMs(), BACKOFF.maxMs - 10 * SECOND);

    const down = setup([{ kind: 'fail', error: unavailable() }]);
    await startAndWait(down.manager);
    let settled = false;
    void down.manager.demand().then(() => {
      settled = true;
    });
    down.manager.close();
    await down.clock.advanceAsync(0);
    assert.equal(settled, true);
    assert.equal(down.calls.length, 1);
    t.manager.close();
  });

  it('one fetch in flight, shared by concurrent callers', async () => {
    const clock = new FakeClock();
    let release: ((result: AccessTokenResult) => void) | undefined;
    let calls = 0;
    const provider: IdentityProvider = {
      requestToken() {
        calls += 1;
        return new Promise((resolve) => {
          release = resolve;
        });
      },
    };
    const manager = createTokenManager({
      name: 'cache-a',
      provider,
      clock,
      random: () => 0,
      requestTimeoutMs: TIMEOUT_MS,
      backoff: BACKOFF,
    });
    manager.start();
    const a = manager.refreshNow();
    const b = manager.refreshNow();
    assert.equal(a, b);
    assert.equal(calls, 1);
    assert.throws(() => manager.current(), /first token request is still running/);
    release!({ token: makeFakeJwt({ oid: OID }), expiresAtMs: clock.now() + 60 * MIN });
    await Promise.all([a, b, manager.ready()]);
    assert.equal(calls, 1);

    // A second round while the first token is valid: it stays in use until the new one arrives.
    const first = manager.current().password;
    const c = manager.refreshNow();
    assert.notEqual(c, a);
    assert.equal(manager.refreshNow(), c);
    assert.equal(manager.current().password, first);
    assert.equal(calls, 2);
    const second = makeFakeJwt({ oid: OID });
    release!({ token: second, expiresAtMs: clock.now() + 61 * MIN });
    await c;
    assert.equal(manager.current().password, second);
    manager.close();
  });

  it('a cache hit (same expiry) fires nothing and does not loop', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    await startAndWait(t.manager);
    t.script([{ kind: 'same' }]);
    await t.clock.advanceAsync(55 * MIN);
    assert.equal(t.calls.length, 2);
    assert.equal(t.changes.length, 1);
    assert.equal(t.acquired.length, 1);
    assert.equal(t.failed.length, 0);
    assert.ok(t.clock.nextTimerInMs()! >= BACKOFF.initialMs, 'next ask at least backoff.initialMs later');

    // Repeated cache hits back off, never closer together than initialMs.
    await t.clock.advanceAsync(4 * MIN);
    const starts = t.calls.map((call) => call.startedAtMs);
    const gaps = starts.slice(2).map((at, i) => at - starts[i + 1]!);
    assert.ok(gaps.length >= 5 && gaps.length <= 20, `${gaps.length} asks in 4 minutes`);
    assert.ok(
      gaps.every((gap) => gap >= BACKOFF.initialMs),
      `gaps ${gaps.join(', ')}`,
    );
    assert.equal(t.changes.length, 1);
    assert.equal(t.failed.length, 0);

    // The provider finally hands out a newer token, before the old one runs out.
    t.script([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    await t.clock.advanceAsync(BACKOFF.maxMs);
    assert.equal(t.changes.length, 2);
    assert.equal(t.expired.length, 0);
    t.manager.close();
  });

  it('a hung provider is cut off by requestTimeoutMs, and its signal is aborted', async () => {
    const t = setup([{ kind: 'hang' }, { kind: 'token', lifetimeMs: 60 * MIN }]);
    t.manager.start();
    let ready = false;
    void t.manager.ready().then(() => {
      ready = true;
    });
    await t.clock.advanceAsync(TIMEOUT_MS - 1);
    assert.equal(ready, false);
    assert.equal(t.calls[0]!.signal?.aborted, false);
    await t.clock.advanceAsync(1);
    assert.equal(ready, true);
    const failure = t.failed[0]!;
    assert.equal(failure.error.kind, 'timeout');
    assert.equal(failure.error.isRetryable, true);
    assert.match(failure.error.message, /timed out after 10000 ms/);
    assert.equal(failure.durationMs, TIMEOUT_MS);
    assert.equal(t.calls[0]!.signal?.aborted, true);

    await t.clock.advanceAsync(failure.nextRetryInMs);
    assert.equal(t.manager.current().password, t.issued[0]!.token);
    t.manager.close();
  });

  it('rejects unusable provider answers as invalid_response', async () => {
    const now = Date.UTC(2025, 0, 1);
    const cases: [AccessTokenResult, RegExp][] = [
      [{ token: '', expiresAtMs: now + MIN }, /returned no token/],
      [{ token: null as unknown as string, expiresAtMs: now + MIN }, /returned no token/],
      [{ token: makeFakeJwt({ oid: OID }), expiresAtMs: Number.NaN }, /without an expiry/],
      [{ token: makeFakeJwt({ oid: OID }), expiresAtMs: now }, /already expired/],
    ];
    for (const [result, pattern] of cases) {
      const t = setup([{ kind: 'raw', result }]);
      await startAndWait(t.manager);
      const failure = t.failed[0]!;
      assert.equal(failure.error.kind, 'invalid_response');
      assert.match(failure.error.message, pattern);
      assertUnavailable(t.manager, pattern);
      t.manager.close();
    }
  });

  it('wraps foreign errors without their message (it may quote a response body)', async () => {
    const leak = makeFakeJwt({ oid: OID });
    const t = setup([{ kind: 'fail', error: new Error(`upstream said: ${leak}`) }]);
    await startAndWait(t.manager);
    const failure = t.failed[0]!;
    assert.ok(failure.error instanceof TokenRequestError);
    assert.equal(failure.error.message, 'token request failed: Error');
    assert.equal(failure.error.kind, 'unknown');
    assert.equal(failure.error.isRetryable, true);
    assert.equal(toTokenRequestError('a string').message, 'token request failed: string');
    t.manager.close();
  });

  it('close() cancels every timer, ignores late answers and resolves ready()', async () => {
    const t = setup([{ kind: 'token', lifetimeMs: 60 * MIN }]);
    await startAndWait(t.manager);
    assert.equal(t.clock.pendingTimers().length, 2, 'refresh and expiry timers');
    t.manager.close();
    assert.deepEqual(t.clock.pendingTimers(), []);
    assertUnavailable(t.manager, /is closed/);
    await t.manager.refreshNow();
    assert.equal(t.calls.length, 1);

    // Closing during a fetch: the timeout timer goes too and the answer is dropped.
    const hung = setup([{ kind: 'hang' }]);
    hung.manager.start();
    assert.equal(hung.clock.pendingTimers().length, 1, 'the request timeout');
    hung.manager.close();
    assert.deepEqual(hung.clock.pendingTimers(), []);
    assert.equal(hung.calls[0]!.signal?.aborted, true);
    await hung.manager.ready();
    assert.equal(hung.failed.length, 0);

    // Never started: ready() still settles on close.
    const idle = setup([{ kind: 'token', lifetimeMs: MIN }]);
    idle.manager.close();
    await idle.manager.ready();
    idle.manager.start();
    assert.equal(idle.calls.length, 0);
  });

  it('listeners and observers that throw do not stop rotation', async () => {
    const clock = new FakeClock();
    const script = scriptedProvider(clock, [{ kind: 'token', lifetimeMs: 60 * MIN }]);
    const listenerErrors: unknown[] = [];
    const manager = createTokenManager({
      name: 'cache-a',
      provider: script.provider,
      clock,
      random: () => 0,
      requestTimeoutMs: TIMEOUT_MS,
      backoff: BACKOFF,
      observer: {
        onTokenAcquired: () => {
          throw new Error('metrics bug');
        },
        onListenerError: (event) => listenerErrors.push(event.error),
      },
    });
    const seen: string[] = [];
    manager.onChange(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = manager.onChange((auth) => seen.push(auth.password));
    await startAndWait(manager);
    assert.equal(seen.length, 1);
    assert.equal(listenerErrors.length, 1);
    unsubscribe();
    await clock.advanceAsync(55 * MIN);
    assert.equal(script.calls.length, 2);
    assert.equal(seen.length, 1, 'unsubscribed listener is not called');
    assert.equal(manager.current().password, script.issued[1]!.token);
    manager.close();
  });

  it('full jitter draws from the injected random source', async () => {
    const t = setup([{ kind: 'fail', error: unavailable() }], {
      backoff: { ...BACKOFF, jitter: 'full' },
      random: () => 0.25,
    });
    await startAndWait(t.manager);
    await t.clock.advanceAsync(1000);
    await t.clock.advanceAsync(1250);
    // attempt 3: 1000 + 0.25 * (4000 - 1000)
    assert.deepEqual(
      t.failed.map((e) => e.nextRetryInMs),
      [1000, 1250, 1750],
    );
    t.manager.close();
  });

  it('validates its settings', () => {
    const clock = new FakeClock();
    const provider = scriptedProvider(clock, [{ kind: 'hang' }]).provider;
    const base = { name: 'x', provider, clock, random: Math.random, requestTimeoutMs: 1000, backoff: BACKOFF };
    assert.throws(() => createTokenManager({ ...base, requestTimeoutMs: 0 }), /requestTimeoutMs/);
    assert.throws(() => createTokenManager({ ...base, refreshBeforeExpiryMs: -1 }), /refreshBeforeExpiryMs/);
    assert.throws(() => createTokenManager({ ...base, backoff: { ...BACKOFF, maxMs: 1 } }), /maxMs/);
  });
});

describe('requestWithTimeout', { timeout: 5000 }, () => {
  it('resolves, rejects on time, and honours an outer abort', async () => {
    const clock = new FakeClock();
    assert.equal(
      await requestWithTimeout(
        clock,
        100,
        () => Promise.resolve(7),
        () => new Error('late'),
      ),
      7,
    );
    assert.deepEqual(clock.pendingTimers(), []);

    const timedOut = requestWithTimeout(
      clock,
      100,
      () => new Promise<never>(() => undefined),
      () => new Error('late'),
    );
    clock.advance(100);
    await assert.rejects(timedOut, /late/);

    const outer = new AbortController();
    let inner: AbortSignal | undefined;
    const aborted = requestWithTimeout(
      clock,
      100,
      (signal) => {
        inner = signal;
        return new Promise<never>(() => undefined);
      },
      () => new Error('late'),
      outer.signal,
    );
    outer.abort();
    await assert.rejects(aborted, (error: unknown) => error instanceof TokenRequestError && error.kind === 'aborted');
    assert.equal(inner?.aborted, true);
    assert.deepEqual(clock.pendingTimers(), []);

    await assert.rejects(
      requestWithTimeout(
        clock,
        100,
        () => Promise.resolve(1),
        () => new Error('late'),
        outer.signal,
      ),
      /aborted/,
    );
    await assert.rejects(
      requestWithTimeout(
        clock,
        100,
        () => {
          throw new Error('sync throw');
        },
        () => new Error('late'),
      ),
      /sync throw/,
    );
  });
});
