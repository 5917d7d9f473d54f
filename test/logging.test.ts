import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { logCycle } from '../src/cycle-log.ts';
import { createLogger } from '../src/logging.ts';
import type { CycleResult } from '../src/probe-result.ts';
import { REDACTED, createSecretRedactor } from '../src/secrets.ts';
import { capturingLogger } from './support/capturing-logger.ts';

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
    assert.deepEqual(all.entries.map(({ level, fields }) => ({ level, durationMs: fields.durationMs })), [{ level: 'info', durationMs: 1.235 }]);
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
