import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logging.ts';
import { REDACTED, createSecretRedactor } from '../src/secrets.ts';

/** A logger writing JSON lines into an array. */
function capture(level: 'error' | 'warn' | 'info' | 'debug') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const redactor = createSecretRedactor();
  return { lines, redactor, logger: createLogger({ level, format: 'json', redactor, stream }) };
}

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
    assert.deepEqual(lines.map((line) => line.message), ['kept']);
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
});
