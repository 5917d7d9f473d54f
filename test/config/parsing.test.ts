import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDurationMs } from '../../src/config/duration.ts';
import { substituteEnv } from '../../src/config/env-substitution.ts';
import type { SubstitutionIssue } from '../../src/config/env-substitution.ts';
import { countClients, parseClientList } from '../../src/probe/client-list.ts';

describe('durations', () => {
  it('parses the units users write', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('5s'), 5000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('30d'), 2_592_000_000);
  });
  it('rejects anything else', () => {
    for (const text of ['5', '5 seconds', 's', '-1s', '1w', '']) assert.equal(parseDurationMs(text), undefined, text);
  });
  it('formats back in the largest whole unit', () => {
    assert.deepEqual([formatDurationMs(5000), formatDurationMs(1500), formatDurationMs(120_000)], ['5s', '1500ms', '2m']);
  });
});

describe('env substitution', () => {
  it('replaces references in nested strings, with fallbacks and $$ escapes', () => {
    const issues: SubstitutionIssue[] = [];
    const result = substituteEnv({ a: ['${X}-${Y:-def}', 3], b: { c: 'cost $$5', d: true } }, { X: 'x' }, issues);
    assert.deepEqual(result, { a: ['x-def', 3], b: { c: 'cost $5', d: true } });
    assert.deepEqual(issues, []);
  });
  it('reports an unterminated, a nested or a misnamed reference instead of keeping it as literal text', () => {
    const issues: SubstitutionIssue[] = [];
    const result = substituteEnv(
      { a: 'x${OPEN', b: '${U:-${A}}', c: '${1X}', d: '${}', e: 'ok $${OPEN and ${A:-fallback with $ and {}', f: 'lone $ and $5' },
      { A: 'a' },
      issues,
    );
    assert.deepEqual(
      issues.map((issue) => [issue.path.join('.'), issue.message.split(';')[0]]),
      [
        ['a', 'the "${" at character 2 has no closing "}"'],
        ['b', 'the fallback of the reference at character 1 holds another "${"'],
        ['c', 'the reference at character 1 does not start with a variable name (letters, digits and "_", not starting with a digit)'],
        ['d', 'the reference at character 1 does not start with a variable name (letters, digits and "_", not starting with a digit)'],
      ],
    );
    assert.equal((result as Record<string, string>)['e'], 'ok ${OPEN and a');
    assert.equal((result as Record<string, string>)['f'], 'lone $ and $5');
  });

  it('reports each unset variable with its path', () => {
    const issues: SubstitutionIssue[] = [];
    substituteEnv({ targets: [{ host: '${NOPE}' }] }, {}, issues);
    assert.deepEqual(
      issues.map((issue) => issue.path),
      [['targets', 0, 'host']],
    );
  });
});

describe('parseClientList', () => {
  it('reads id, addr and name of each client', () => {
    const text = 'id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=redis-probe:a cmd=client|list\nid=4 addr=[::1]:1234 fd=9 name= cmd=ping\n';
    assert.deepEqual(parseClientList(text), [
      { id: '3', addr: '127.0.0.1:50000', name: 'redis-probe:a' },
      { id: '4', addr: '[::1]:1234', name: '' },
    ]);
  });
  it('skips blank and malformed lines', () => {
    assert.deepEqual(parseClientList('\ngarbage\nfd=1\n'), []);
  });
});

describe('reading CLIENT LIST without parsing it', () => {
  const text = 'id=3 addr=127.0.0.1:50000 fd=8 name=redis-probe:i:a age=1\nid=4 addr=[::1]:1234 fd=9 name=redis-probe:i:ab\r\n\n';
  it('counts the listed clients', () => {
    assert.equal(countClients(text), 2);
    assert.equal(countClients(''), 0);
    assert.equal(countClients(' \r\n  id=5 addr=x\n\t\n'), 1, 'blank lines of whitespace are not clients; an indented line is');
  });
});
