import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Redis, ReplyError } from 'ioredis';
import { logCycle } from '../../src/daemon/cycle-log.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { CycleResult } from '../../src/shared/probe-result.ts';
import { REDACTED, createSecretRedactor } from '../../src/shared/secrets.ts';
import { capturingLogger } from '../support/capturing-logger.ts';
import { startRedis } from '../support/redis-server.ts';

/** A logger writing JSON lines into an array. */
function capture(level: 'error' | 'warn' | 'info' | 'debug', format: 'json' | 'pretty' = 'json') {
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      if (format === 'json') for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const redactor = createSecretRedactor();
  return { lines, text: () => text, redactor, logger: createLogger({ level, format, redactor, stream }) };
}

/** A secret as written raw, or escaped inside a JSON string. */
const forms = (secret: string): string[] => [secret, JSON.stringify(secret).slice(1, -1)];

describe('logging', () => {
  it('writes enabled levels as JSON lines with their fields and a timestamp, and drops the others', async () => {
    const { lines, logger } = capture('info');
    logger.debug('not at info', { target: 'a' });
    logger.info('cycle', { target: 'a', durationMs: 1.5 });
    logger.warn('cycle failed', { target: 'b', step: 'ping', reason: 'timeout' });
    logger.error('plain');
    await logger.flush();
    assert.deepEqual(
      lines.map(({ timestamp, ...rest }) => {
        assert.match(String(timestamp), /^\d{4}-\d\d-\d\dT/);
        return rest;
      }),
      [
        { level: 'info', message: 'cycle', target: 'a', durationMs: 1.5 },
        { level: 'warn', message: 'cycle failed', target: 'b', step: 'ping', reason: 'timeout' },
        { level: 'error', message: 'plain' },
      ],
    );
  });

  it('at warn, per-cycle info lines are not written', async () => {
    const { lines, logger } = capture('warn');
    logger.info('cycle', { target: 'a' });
    logger.debug('detail');
    logger.warn('kept');
    await logger.flush();
    assert.deepEqual(
      lines.map((line) => line.message),
      ['kept'],
    );
    assert.deepEqual(
      (['error', 'warn', 'info', 'debug'] as const).map((level) => logger.isEnabled(level)),
      [true, true, false, false],
    );
  });

  it('builds a cycle line only when its level is written', () => {
    const result: CycleResult = {
      target: 'a',
      trigger: 'schedule',
      startedAtMs: 0,
      durationMs: 1.2345,
      success: true,
      steps: [{ step: 'ping', durationMs: 0.5 }],
      unsupportedSteps: [],
      observations: {},
    };
    const failed: CycleResult = { ...result, success: false, failure: { step: 'ping', reason: 'timeout', message: 'ping timed out' } };
    const warnOnly = { ...capturingLogger(), isEnabled: (level: string) => level === 'warn' || level === 'error' };
    logCycle(warnOnly, result, { state: 'up', newlyUnsupported: [] }, { cycles: 'all' });
    assert.equal(warnOnly.entries.length, 0, 'no success line is built at warn');
    logCycle(warnOnly, failed, { state: 'down', newlyUnsupported: [] }, { cycles: 'all' });
    assert.deepEqual(
      warnOnly.entries.map(({ level, message, fields }) => ({ level, message, reason: fields.reason, steps: fields.steps })),
      [{ level: 'warn', message: 'probe cycle failed', reason: 'timeout', steps: { ping: 0.5 } }],
    );
    const all = capturingLogger();
    logCycle(all, result, { state: 'up', newlyUnsupported: [] }, { cycles: 'all' });
    assert.deepEqual(
      all.entries.map(({ level, fields }) => ({ level, durationMs: fields.durationMs })),
      [{ level: 'info', durationMs: 1.235 }],
    );
  });

  it('scrubs known secrets from messages and nested fields', async () => {
    const { lines, logger, redactor } = capture('debug');
    redactor.add('s3cret-token-value');
    logger.debug('auth with s3cret-token-value', { error: { detail: 'bad s3cret-token-value' } });
    await logger.flush();
    const text = JSON.stringify(lines);
    assert.ok(!text.includes('s3cret-token-value'));
    assert.equal(lines[0]?.message, `auth with ${REDACTED}`);
    assert.deepEqual(lines[0]?.error, { detail: `bad ${REDACTED}` });
  });

  // Each secret holds characters that JSON escapes, or that break naive escaping (a trailing backslash).
  const awkward = {
    quote: 'key"with"quotes',
    backslash: 'key\\with\\backslashes',
    trailingBackslash: 'key-ends-in-backslash\\',
    tab: 'key\twith\ttabs',
    newline: 'key\nwith\r\nnewlines',
    loneSurrogate: 'key-\uD800-lone-surrogate',
    nonAscii: 'clé-sécrète-ключ-鍵-🔑',
    controls: 'key\u0000\u001f\u007fcontrol',
  };

  for (const [kind, secret] of Object.entries(awkward)) {
    it(`scrubs a secret with ${kind} from messages, nested fields, arrays and errors at debug, in json and pretty`, async () => {
      for (const format of ['json', 'pretty'] as const) {
        const { lines, text, logger, redactor } = capture('debug', format);
        redactor.add(secret);
        assert.doesNotThrow(() =>
          logger.debug(`message ${secret}`, {
            plain: secret,
            nested: { deeper: { value: `prefix ${secret} suffix` }, list: [secret, { item: secret }] },
            issues: [`credentials[0].passwordEnv: environment variable ${secret} is not set`],
            error: new Error(`AUTH failed for ${secret}`, { cause: new Error(`inner ${secret}`) }),
          }),
        );
        await logger.flush();
        const written = text();
        assert.ok(written.length > 0, 'a line was written');
        for (const form of forms(secret)) assert.ok(!written.includes(form), `${format}: ${JSON.stringify(form)} leaked in ${written}`);
        if (format === 'json') {
          const line = lines[0] as Record<string, unknown>;
          assert.equal(line.message, `message ${REDACTED}`);
          assert.equal(line.plain, REDACTED);
          assert.deepEqual(line.nested, { deeper: { value: `prefix ${REDACTED} suffix` }, list: [REDACTED, { item: REDACTED }] });
          assert.deepEqual(line.issues, [`credentials[0].passwordEnv: environment variable ${REDACTED} is not set`]);
        }
      }
    });
  }

  it('redacts the longer of two secrets when one is a prefix of the other', () => {
    const redactor = createSecretRedactor();
    redactor.add('shared-prefix');
    redactor.add('shared-prefix-and-more');
    redactor.add('and-more');
    assert.equal(redactor.redact('a shared-prefix-and-more b shared-prefix c'), `a ${REDACTED} b ${REDACTED} c`);
    redactor.remove('shared-prefix-and-more');
    assert.equal(redactor.redact('a shared-prefix-and-more b'), `a ${REDACTED}-${REDACTED} b`);
  });

  it('renders Error fields as their name, message, code and cause chain, redacted', async () => {
    const { lines, logger, redactor } = capture('debug');
    redactor.add('token-abcdef');
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', port: 1 });
    const error = new TypeError('bad token-abcdef', { cause: new Error('middle', { cause: root }) });
    logger.error('failed', { error, several: new AggregateError([new RangeError('first'), 'second token-abcdef'], 'both') });
    await logger.flush();
    const logged = lines[0]?.error as Record<string, unknown>;
    assert.equal(logged.name, 'TypeError');
    assert.equal(logged.message, `bad ${REDACTED}`);
    assert.match(String(logged.stack), /^TypeError: bad \[REDACTED\]\n\s+at /);
    const middle = logged.cause as Record<string, unknown>;
    assert.equal(middle.message, 'middle');
    const inner = middle.cause as Record<string, unknown>;
    assert.deepEqual([inner.name, inner.message, inner.code, inner.port], ['Error', 'connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED', 1]);
    const several = lines[0]?.several as { message: string; errors: [Record<string, unknown>, string] };
    assert.equal(several.message, 'both');
    assert.deepEqual([several.errors[0].name, several.errors[0].message, several.errors[1]], ['RangeError', 'first', `second ${REDACTED}`]);
  });

  it('never writes the arguments of a failed AUTH from an ioredis error, even when the redactor does not know them', async () => {
    const server = await startRedis({ aclUsers: [{ name: 'prober', password: 'right-password-1234', rules: '+@all ~* &*' }] });
    const client = new Redis({ ...server.clientOptions(), lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const error = await client.auth('prober', 'wrong-password-Hx91').then(
        () => assert.fail('AUTH with a wrong password succeeded'),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ReplyError);
      assert.ok(JSON.stringify((error as { command?: unknown }).command).includes('wrong-password-Hx91'), 'ioredis carries the args');
      const { lines, text, logger } = capture('debug');
      logger.warn('auth failed', { error, list: [error], wrapped: new Error('cycle failed', { cause: error }) });
      await logger.flush();
      assert.ok(!text().includes('wrong-password-Hx91'), text());
      const logged = lines[0]?.error as { name: string; message: string; command: { name: string; args: unknown } };
      assert.equal(logged.name, 'ReplyError');
      assert.match(logged.message, /^WRONGPASS/);
      assert.deepEqual(logged.command, { name: 'auth', args: REDACTED });
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('a log call never throws, whatever the fields hold: cycles, throwing getters, BigInt, proxies, symbols', async () => {
    const { lines, logger, redactor } = capture('debug');
    redactor.add('cyclic-secret');
    const cyclic: Record<string, unknown> = { name: 'cyclic-secret' };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, { back: cyclic }];
    const shared = { value: 1 };
    const cyclicError = new Error('loop') as Error & { cause?: unknown };
    cyclicError.cause = cyclicError;
    const throwing = Object.defineProperty({ fine: 'yes' }, 'bad', {
      enumerable: true,
      get() {
        throw new Error('getter exploded');
      },
    });
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('proxy exploded');
        },
      },
    );
    let deep: Record<string, unknown> = { leaf: true };
    for (let depth = 0; depth < 100; depth++) deep = { deep };
    const fields = {
      cyclic,
      twice: [shared, shared],
      cyclicError,
      throwing,
      hostile,
      big: 12345678901234567890n,
      symbol: Symbol('sym'),
      fn: function named() {
        // Only its name is logged.
      },
      deep,
      date: new Date(0),
      buffer: Buffer.from('cyclic-secret'),
      map: new Map([['k', 'cyclic-secret']]),
      set: new Set(['cyclic-secret']),
      url: new URL('redis://user:cyclic-secret@example.net:6380'),
      undefinedValue: undefined,
    };
    for (const level of ['error', 'warn', 'info', 'debug'] as const) assert.doesNotThrow(() => logger[level](`at ${level}`, fields));
    await logger.flush();
    assert.equal(lines.length, 4);
    const line = lines[0] as Record<string, unknown>;
    assert.ok(!JSON.stringify(lines).includes('cyclic-secret'));
    assert.deepEqual(line.cyclic, { name: REDACTED, self: '[Circular]', list: ['[Circular]', { back: '[Circular]' }] });
    assert.deepEqual(line.twice, [{ value: 1 }, { value: 1 }], 'a value seen twice but not inside itself is no cycle');
    assert.equal((line.cyclicError as Record<string, unknown>).cause, '[Circular]');
    assert.deepEqual(line.throwing, { fine: 'yes', bad: '[Unreadable]' });
    assert.equal(line.hostile, '[Unreadable]');
    assert.equal(line.big, '12345678901234567890');
    assert.equal(line.date, '1970-01-01T00:00:00.000Z');
    assert.equal(line.buffer, '[Buffer of 13 bytes]');
    assert.deepEqual(line.map, [['k', REDACTED]]);
    assert.deepEqual(line.set, [REDACTED]);
    assert.equal(line.url, `redis://user:${REDACTED}@example.net:6380`);
    assert.match(JSON.stringify(line.deep), /"\[Nested too deep\]"/);
  });
});
