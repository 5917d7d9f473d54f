import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CREDIT_TIERS } from '../../src/sla/credit-tiers.ts';
import { buildTargetReport } from '../../src/sla/report.ts';
import type { ReportSettings, TargetMinutes } from '../../src/sla/report.ts';

const FROM_MS = Date.UTC(2026, 10, 1);
const at = (minute: number): string => new Date(FROM_MS + minute * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Minutes from a picture, one character a minute: `u` up (4 attempts, none failed), `p` partly
 * failed (3 of 4), `d` down by connection_refused, `t` down by timeout, `m` down during planned
 * maintenance, `x` down with more failures than attempts (a counter read across a restart),
 * `?` unknown (no attempt), `0` unknown with a sample of 0 attempts.
 */
function minutes(picture: string, extra: { objective?: number } = {}): TargetMinutes {
  const attempts = new Map<number, number>();
  const failures = new Map<number, number>();
  const reasons = new Map<number, Map<string, number>>();
  const maintenance = new Set<number>();
  Array.from(picture).forEach((c, m) => {
    if (c === '?') return;
    attempts.set(m, c === '0' ? 0 : 4);
    const failed = { u: 0, '0': 0, p: 3, d: 4, t: 4, m: 4, x: 5 }[c];
    if (failed === undefined) throw new Error(`bad picture character ${c}`);
    if (failed > 0) {
      failures.set(m, failed);
      reasons.set(m, new Map([[c === 't' ? 'timeout' : 'connection_refused', failed]]));
    }
    if (c === 'm') maintenance.add(m);
  });
  return { target: 'orders', attempts, failures, reasons, maintenance, ...extra };
}

const settings = (count: number, more: Partial<ReportSettings> = {}): ReportSettings => ({
  fromMs: FROM_MS,
  minutes: count,
  tiers: DEFAULT_CREDIT_TIERS,
  defaultObjectivePercent: 99.9,
  overrideObjective: false,
  ...more,
});
const report = (picture: string, more: Partial<ReportSettings> = {}, extra: { objective?: number } = {}) =>
  buildTargetReport(minutes(picture, extra), settings(picture.length, more));

describe('sla report: minutes', () => {
  it('a minute is down only when it had attempts and all failed; one success keeps it up', () => {
    const r = report('upddpu');
    assert.equal(r.downtime_minutes, 2);
    assert.equal(r.unknown_minutes, 0);
    assert.deepEqual(
      r.incidents.map((i) => [i.start, i.minutes]),
      [[at(2), 2]],
    );
  });

  it('more failures than attempts (a reset read across a restart) is still down', () => {
    assert.equal(report('uxu').downtime_minutes, 1);
  });

  it('a minute with no attempt, missing or 0, is unknown: counted neither up nor down', () => {
    const r = report('uu?0uu');
    assert.equal(r.unknown_minutes, 2);
    assert.equal(r.downtime_minutes, 0);
    assert.equal(r.uptime_percent, 100);
  });

  it('a period with every minute unknown has no uptime, no verdict and no credit', () => {
    assert.deepEqual(report('????'), {
      target: 'orders',
      uptime_percent: null,
      downtime_minutes: 0,
      unknown_minutes: 4,
      objective: 99.9,
      met: null,
      credit_percent: null,
      incidents: [],
    });
  });

  it('uptime is (counted - down) / counted over the known minutes, rounded to 4 places', () => {
    // 2 unknown, 3 counted, 1 down: 66.666…
    const r = report('?ud?u');
    assert.equal(r.uptime_percent, 66.6667);
    assert.equal(r.met, false);
    assert.equal(r.credit_percent, 100);
  });
});

describe('sla report: incidents', () => {
  it('an incident at the period start or running past its end is cut at the period', () => {
    const r = report('dduuddd');
    assert.deepEqual(r.incidents, [
      { start: at(0), end: at(2), minutes: 2, reason: 'connection_refused', maintenance: false },
      { start: at(4), end: at(7), minutes: 3, reason: 'connection_refused', maintenance: false },
    ]);
  });

  it('an unknown minute ends an incident: what happened in it is not known', () => {
    assert.deepEqual(
      report('dd?dd').incidents.map((i) => [i.start, i.end]),
      [
        [at(0), at(2)],
        [at(3), at(5)],
      ],
    );
  });

  it('the main reason is the one with the most failed cycles, ties by name; a minute without reasons reads unknown', () => {
    assert.equal(report('dttd').incidents[0]?.reason, 'connection_refused', 'a tie: by name');
    assert.equal(report('dttt').incidents[0]?.reason, 'timeout');
    const noReasons = minutes('dd');
    assert.equal(buildTargetReport({ ...noReasons, reasons: new Map() }, settings(2)).incidents[0]?.reason, 'unknown');
  });

  it('an incident that overlaps planned maintenance in any minute is marked', () => {
    assert.deepEqual(
      report('ddmdudd').incidents.map((i) => i.maintenance),
      [true, false],
    );
  });
});

describe('sla report: objective, met and credit', () => {
  // A 30-day month: 43,200 minutes; 432 of them is exactly 1 %, 2,160 exactly 5 %, 43.2 is 0.1 %.
  const month = (down: number): ReturnType<typeof buildTargetReport> =>
    buildTargetReport(minutes(`${'d'.repeat(down)}${'u'.repeat(43_200 - down)}`), settings(43_200));

  it('credit tier boundaries: exactly 99 % earns 10, one minute less 25; exactly 95 % earns 25, one minute less 100', () => {
    assert.deepEqual([month(43).credit_percent, month(43).met], [0, true]);
    assert.deepEqual([month(44).credit_percent, month(44).met], [10, false]);
    assert.deepEqual([month(432).uptime_percent, month(432).credit_percent], [99, 10]);
    assert.deepEqual([month(433).credit_percent], [25]);
    assert.deepEqual([month(2160).uptime_percent, month(2160).credit_percent], [95, 25]);
    assert.deepEqual([month(2161).credit_percent], [100]);
  });

  it('uptime exactly at the objective meets it', () => {
    // 1 down in 1,000 minutes is 99.9 %.
    const r = report(`d${'u'.repeat(999)}`);
    assert.deepEqual([r.uptime_percent, r.met, r.credit_percent], [99.9, true, 0]);
  });

  it("the target's own objective (redis_probe_sla_objective) wins over the default, unless overridden", () => {
    assert.equal(report('u', {}, { objective: 0.9995 }).objective, 99.95);
    assert.equal(report('u', {}, {}).objective, 99.9);
    assert.equal(report('u', { defaultObjectivePercent: 99, overrideObjective: true }, { objective: 0.9995 }).objective, 99);
  });

  it('the objective decides met and the first credit tier', () => {
    // 1 down in 100 minutes: 99 %.
    const picture = `d${'u'.repeat(99)}`;
    assert.deepEqual(
      [report(picture, {}, { objective: 0.99 })].map((r) => [r.uptime_percent, r.met, r.credit_percent]),
      [[99, true, 0]],
    );
    assert.deepEqual(
      [report(picture, {}, { objective: 0.995 })].map((r) => [r.met, r.credit_percent]),
      [[false, 10]],
    );
  });
});
