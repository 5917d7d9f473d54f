import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { creditPercent, DEFAULT_CREDIT_TIERS, parseCreditTiers } from '../../src/sla/credit-tiers.ts';
import { SlaError } from '../../src/sla/errors.ts';

describe('sla credit tiers', () => {
  it('the defaults: 10 % below the objective, 25 % below 99 %, 100 % below 95 %; a boundary itself is not below', () => {
    const credit = (uptime: number): number => creditPercent(uptime, 99.9, DEFAULT_CREDIT_TIERS);
    assert.equal(credit(100), 0);
    assert.equal(credit(99.9), 0, 'exactly the objective is met');
    assert.equal(credit(99.8999), 10);
    assert.equal(credit(99), 10, 'exactly 99 % is not below 99 %');
    assert.equal(credit(98.9999), 25);
    assert.equal(credit(95), 25, 'exactly 95 % is not below 95 %');
    assert.equal(credit(94.9999), 100);
    assert.equal(credit(0), 100);
  });

  it('a boundary reached through floating-point division still counts as the boundary', () => {
    // 0.1 + 0.2 style: 99.9 reached as 100 - 0.1 is 99.9 within far less than one minute in a month.
    assert.equal(creditPercent(100 - 0.1, 99.9, DEFAULT_CREDIT_TIERS), 0);
    assert.equal(creditPercent(((1000 - 50) / 1000) * 100, 99.9, DEFAULT_CREDIT_TIERS), 25);
  });

  it('the largest credit of every tier the uptime falls below wins, in any order', () => {
    const tiers = parseCreditTiers('95:100,objective:10,99:25');
    assert.equal(creditPercent(94, 99.9, tiers), 100);
    assert.equal(creditPercent(98, 99.9, tiers), 25);
    // An objective below a fixed tier: the fixed tier still applies above the objective.
    assert.equal(creditPercent(98.5, 98, tiers), 25);
  });

  it('parses UPTIME:CREDIT lists, spaces around entries allowed', () => {
    assert.deepEqual(parseCreditTiers('objective:10,99:25,95:100'), DEFAULT_CREDIT_TIERS);
    assert.deepEqual(parseCreditTiers(' objective:5 , 99.95:50 '), [
      { below: 'objective', creditPercent: 5 },
      { below: 99.95, creditPercent: 50 },
    ]);
    assert.deepEqual(parseCreditTiers('100:0,0:100'), [
      { below: 100, creditPercent: 0 },
      { below: 0, creditPercent: 100 },
    ]);
  });

  it('a bad entry is a usage error that quotes it and shows the form to write', () => {
    const bad = [
      '',
      'objective',
      'objective:',
      ':10',
      '99:25:1',
      '99;25',
      'objective:10,',
      'objective:10;99:25',
      '101:10',
      '99:101',
      '-1:10',
      '1e2:10',
      'ninety:10',
      '99:ten',
      'Objective:10',
    ];
    for (const text of bad) {
      assert.throws(
        () => parseCreditTiers(text),
        (error: unknown) => {
          assert.ok(error instanceof SlaError, `${text}: ${String(error)}`);
          assert.equal(error.kind, 'usage', text);
          assert.equal(error.exitCode, 2, text);
          assert.match(
            error.message,
            /^--credit-tiers: ".*" is not UPTIME:CREDIT; write e\.g\. objective:10,99:25,95:100 \(uptime below UPTIME percent, or below the objective, earns CREDIT percent\)$/,
            text,
          );
          return true;
        },
        text,
      );
    }
  });
});
