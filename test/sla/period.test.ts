import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlaError } from '../../src/sla/errors.ts';
import { isoMinute, parseTime, resolvePeriod } from '../../src/sla/period.ts';

const MINUTE_MS = 60_000;
/** Long after every month below, so none is cut short. */
const LATER = Date.UTC(2030, 0, 1);
const minutesOf = (period: { fromMs: number; toMs: number }): number => (period.toMs - period.fromMs) / MINUTE_MS;

/** The SlaError `fn` throws, checked for its kind and message. */
function slaError(fn: () => unknown, kind: SlaError['kind'], message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SlaError, String(error));
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    return true;
  });
}

describe('sla period: --month', () => {
  it('is a whole UTC calendar month of 28, 29, 30 or 31 days', () => {
    const cases: [string, number, number][] = [
      ['2025-02', Date.UTC(2025, 1, 1), 28],
      ['2024-02', Date.UTC(2024, 1, 1), 29],
      ['2026-04', Date.UTC(2026, 3, 1), 30],
      ['2026-01', Date.UTC(2026, 0, 1), 31],
      // December ends in the next year.
      ['2026-12', Date.UTC(2026, 11, 1), 31],
    ];
    for (const [month, fromMs, days] of cases) {
      const period = resolvePeriod({ month }, LATER);
      assert.deepEqual(period, { fromMs, toMs: fromMs + days * 1440 * MINUTE_MS, truncated: false }, month);
    }
  });

  it('a month in progress is cut at the current minute and marked truncated', () => {
    const now = Date.UTC(2026, 10, 15, 12, 34, 56);
    assert.deepEqual(resolvePeriod({ month: '2026-11' }, now), { fromMs: Date.UTC(2026, 10, 1), toMs: Date.UTC(2026, 10, 15, 12, 34), truncated: true });
  });

  it('a month that has not started, or whose first minute has not ended, is a time-range error', () => {
    slaError(
      () => resolvePeriod({ month: '2026-12' }, Date.UTC(2026, 10, 30)),
      'timeRange',
      /starts at 2026-12-01T00:00:00Z, which has not ended a minute yet: choose an earlier --month or --from/,
    );
    slaError(() => resolvePeriod({ month: '2026-12' }, Date.UTC(2026, 11, 1, 0, 0, 59)), 'timeRange', /has not ended a minute yet/);
  });

  it('anything but YYYY-MM with a month 01..12 names the expected form', () => {
    for (const month of ['2026-13', '2026-00', '2026-1', '26-01', '2026/01', '2026-01-01', '']) {
      slaError(() => resolvePeriod({ month }, LATER), 'timeRange', /--month ".*" is not a month: use YYYY-MM, e\.g\. --month 2026-11/);
    }
  });
});

describe('sla period: --from/--to', () => {
  it('is cut to whole minutes: the start rounds down, and so does the end', () => {
    const period = resolvePeriod({ from: '2026-11-03T10:00:30Z', to: '2026-11-03T10:05:59Z' }, LATER);
    assert.deepEqual(period, { fromMs: Date.UTC(2026, 10, 3, 10, 0), toMs: Date.UTC(2026, 10, 3, 10, 5), truncated: false });
  });

  it('without --to runs to the current minute', () => {
    const now = Date.UTC(2026, 10, 3, 11, 0, 20);
    assert.deepEqual(resolvePeriod({ from: '2026-11-03T10:00:00Z' }, now), {
      fromMs: Date.UTC(2026, 10, 3, 10),
      toMs: Date.UTC(2026, 10, 3, 11),
      truncated: true,
    });
  });

  it('an end in the future is cut at the current minute', () => {
    const now = Date.UTC(2026, 10, 3, 11, 0, 20);
    const period = resolvePeriod({ from: '2026-11-03T10:00:00Z', to: '2026-11-04T00:00:00Z' }, now);
    assert.deepEqual(period, { fromMs: Date.UTC(2026, 10, 3, 10), toMs: Date.UTC(2026, 10, 3, 11), truncated: true });
  });

  it('a period shorter than one whole minute, or reversed, is a time-range error naming both ends', () => {
    slaError(
      () => resolvePeriod({ from: '2026-11-03T10:00:10Z', to: '2026-11-03T10:00:50Z' }, LATER),
      'timeRange',
      /--from 2026-11-03T10:00:00Z is not before --to 2026-11-03T10:00:00Z: the period must hold at least one whole minute/,
    );
    slaError(() => resolvePeriod({ from: '2026-11-03T11:00:00Z', to: '2026-11-03T10:00:00Z' }, LATER), 'timeRange', /is not before --to/);
  });
});

describe('sla period: times are UTC instants, whatever the local zone', () => {
  let savedTz: string | undefined;
  beforeEach(() => {
    savedTz = process.env['TZ'];
    // Berlin changes to summer time on 2026-03-29 and is already in April at 2026-03-31T23:30Z.
    process.env['TZ'] = 'Europe/Berlin';
  });
  afterEach(() => {
    if (savedTz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = savedTz;
  });

  it('the month of a DST change has all its minutes, and "this month" is the UTC month', () => {
    assert.equal(minutesOf(resolvePeriod({ month: '2026-03' }, LATER)), 31 * 1440);
    const now = Date.UTC(2026, 2, 31, 23, 30, 15);
    assert.equal(new Date(now).getMonth(), 3, 'the local zone is in April: the check below means something');
    assert.deepEqual(resolvePeriod({}, now), { fromMs: Date.UTC(2026, 2, 1), toMs: Date.UTC(2026, 2, 31, 23, 30), truncated: true });
  });

  it('an RFC 3339 offset names the same instant as Z', () => {
    assert.equal(parseTime('2026-03-29T03:30:00+02:00', '--from'), Date.UTC(2026, 2, 29, 1, 30));
    assert.equal(parseTime('2026-03-29T01:30:00Z', '--from'), Date.UTC(2026, 2, 29, 1, 30));
    assert.equal(parseTime('2026-03-29T01:30Z', '--from'), Date.UTC(2026, 2, 29, 1, 30));
  });
});

describe('sla period: parseTime', () => {
  it('takes Unix seconds, fractions included', () => {
    assert.equal(parseTime('1767225600', '--from'), Date.UTC(2026, 0, 1));
    assert.equal(parseTime('1767225600.5', '--from'), Date.UTC(2026, 0, 1) + 500);
  });

  it('refuses text that is no time, naming the option and both accepted forms', () => {
    for (const text of ['yesterday', '2026-11-01', '2026-11-01T00:00:00', '2026-11-01 00:00:00Z', '-5', '']) {
      slaError(() => parseTime(text, '--to'), 'timeRange', /^--to ".*" is not a time: use RFC 3339 such as 2026-11-01T00:00:00Z, or Unix seconds$/);
    }
  });

  it('refuses a date or time of day that does not exist instead of rolling it over', () => {
    // Date.parse reads 2026-02-30 as 2026-03-02: the report would silently cover the wrong days.
    for (const text of ['2026-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z']) {
      slaError(() => parseTime(text, '--from'), 'timeRange', /^--from ".*" is not a time: /);
    }
    assert.equal(parseTime('2024-02-29T00:00:00Z', '--from'), Date.UTC(2024, 1, 29), 'a leap day is a day');
  });

  it('isoMinute writes a minute without milliseconds', () => {
    assert.equal(isoMinute(Date.UTC(2026, 10, 1, 8, 5)), '2026-11-01T08:05:00Z');
  });
});
