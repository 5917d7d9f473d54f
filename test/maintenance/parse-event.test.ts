import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventLabel, MAINTENANCE_EVENT_LABELS, maintenanceEffect, parseMaintenanceEvent } from '../../src/maintenance/parse-event.ts';

/** Messages as Azure documents them (learn.microsoft.com, "Azure Cache for Redis maintenance notifications"). */
const STARTING = 'NotificationType|NodeMaintenanceStarting|StartTimeInUTC|2021-03-02T23:26:57|IsReplica|False|IPAddress||SSLPort|15001|NonSSLPort|13001';

describe('parseMaintenanceEvent', () => {
  it('reads the documented example field by field', () => {
    assert.deepEqual(parseMaintenanceEvent(STARTING), {
      kind: 'event',
      type: 'starting',
      notificationType: 'NodeMaintenanceStarting',
      startTimeMs: Date.UTC(2021, 2, 2, 23, 26, 57),
      isReplica: false,
      sslPort: 15001,
      nonSslPort: 13001,
    });
  });

  it('normalises every documented type, folding the legacy NodeMaintenanceFailover into failover_complete', () => {
    const cases: [string, string][] = [
      ['NodeMaintenanceScheduled', 'scheduled'],
      ['NodeMaintenanceStarting', 'starting'],
      ['NodeMaintenanceStart', 'start'],
      ['NodeMaintenanceFailover', 'failover_complete'],
      ['NodeMaintenanceFailoverComplete', 'failover_complete'],
      ['NodeMaintenanceScaleComplete', 'scale_complete'],
      ['NodeMaintenanceEnded', 'ended'],
    ];
    for (const [type, label] of cases) {
      const parsed = parseMaintenanceEvent(`NotificationType|${type}|IsReplica|True`);
      assert.equal(parsed.kind, 'event', type);
      assert.equal(eventLabel(parsed), label, type);
      assert.equal(parsed.kind === 'event' && parsed.notificationType, type);
    }
  });

  it('accepts other spellings of keys and types, and surrounding whitespace', () => {
    const parsed = parseMaintenanceEvent(' notificationtype | NODEMAINTENANCEENDED | isreplica | TRUE ');
    assert.equal(eventLabel(parsed), 'ended');
    assert.equal(parsed.kind === 'event' && parsed.isReplica, true);
  });

  it('counts a type it does not know as unknown, keeping the name for the log', () => {
    const parsed = parseMaintenanceEvent('NotificationType|NodeMaintenanceTeleported|StartTimeInUTC|2030-01-01T00:00:00');
    assert.equal(parsed.kind, 'event');
    assert.equal(eventLabel(parsed), 'unknown');
    assert.equal(parsed.kind === 'event' && parsed.notificationType, 'NodeMaintenanceTeleported');
    assert.equal(parsed.kind === 'event' && parsed.startTimeMs, Date.UTC(2030, 0, 1));
  });

  it('skips unknown keys, keeps empty values empty and takes the first of repeated keys', () => {
    const parsed = parseMaintenanceEvent('Colour|blue|NotificationType|NodeMaintenanceStart|IPAddress||Future||NotificationType|NodeMaintenanceEnded');
    assert.deepEqual(parsed, { kind: 'event', type: 'start', notificationType: 'NodeMaintenanceStart' });
  });

  it('reads a trailing key without a value as empty', () => {
    assert.deepEqual(parseMaintenanceEvent('NotificationType|NodeMaintenanceEnded|IPAddress'), {
      kind: 'event',
      type: 'ended',
      notificationType: 'NodeMaintenanceEnded',
    });
  });

  it('drops field values it cannot read instead of failing the message', () => {
    const parsed = parseMaintenanceEvent('NotificationType|NodeMaintenanceStarting|StartTimeInUTC|soon|IsReplica|maybe|SSLPort|70000|NonSSLPort|-1');
    assert.deepEqual(parsed, { kind: 'event', type: 'starting', notificationType: 'NodeMaintenanceStarting' });
  });

  it("reads timestamps with fractions (up to .NET's seven digits) and explicit zones", () => {
    const at = (text: string) => {
      const parsed = parseMaintenanceEvent(`NotificationType|NodeMaintenanceStart|StartTimeInUTC|${text}`);
      return parsed.kind === 'event' ? parsed.startTimeMs : 'malformed';
    };
    assert.equal(at('2021-03-02T23:26:57.1234567'), Date.UTC(2021, 2, 2, 23, 26, 57, 123));
    assert.equal(at('2021-03-02 23:26:57'), Date.UTC(2021, 2, 2, 23, 26, 57));
    assert.equal(at('2021-03-02T23:26:57Z'), Date.UTC(2021, 2, 2, 23, 26, 57));
    assert.equal(at('2021-03-03T01:26:57+02:00'), Date.UTC(2021, 2, 2, 23, 26, 57));
    assert.equal(at('2021-13-40T99:99:99'), undefined);
  });

  it('keeps the IP address and bounds long values', () => {
    const parsed = parseMaintenanceEvent(`NotificationType|NodeMaintenanceStart|IPAddress|10.0.0.4|X|y`);
    assert.equal(parsed.kind === 'event' && parsed.ipAddress, '10.0.0.4');
    const long = parseMaintenanceEvent(`NotificationType|${'N'.repeat(5000)}`);
    assert.equal(long.kind === 'event' && long.notificationType.length, 100);
  });

  it('calls a message malformed when there is no NotificationType or no key/value structure', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['hello world', /pipe-delimited/],
      ['StartTimeInUTC|2021-03-02T23:26:57|IsReplica|False', /no NotificationType/],
      ['NotificationType||IsReplica|False', /empty NotificationType/],
      ['|||', /no NotificationType/],
    ];
    for (const [message, reason] of cases) {
      const parsed = parseMaintenanceEvent(message);
      assert.equal(parsed.kind, 'malformed', JSON.stringify(message));
      assert.match(parsed.kind === 'malformed' ? parsed.reason : '', reason);
      assert.equal(eventLabel(parsed), 'malformed');
    }
  });

  it('never throws and always yields a label from the closed set', () => {
    const token = fc.oneof(
      fc.constantFrom('NotificationType', 'NodeMaintenanceStart', 'NodeMaintenanceEnded', 'StartTimeInUTC', 'IsReplica', 'SSLPort', '', 'True'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), fc.string(), (parts, noise) => {
        for (const message of [parts.join('|'), noise]) {
          const label = eventLabel(parseMaintenanceEvent(message));
          assert.ok((MAINTENANCE_EVENT_LABELS as readonly string[]).includes(label), label);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('maintenanceEffect', () => {
  it('begins on Starting, Start and FailoverComplete, ends on Ended, and ignores the rest', () => {
    assert.equal(maintenanceEffect('starting'), 'begin');
    assert.equal(maintenanceEffect('start'), 'begin');
    assert.equal(maintenanceEffect('failover_complete'), 'begin');
    assert.equal(maintenanceEffect('ended'), 'end');
    assert.equal(maintenanceEffect('scheduled'), 'none');
    assert.equal(maintenanceEffect('scale_complete'), 'none');
    assert.equal(maintenanceEffect('unknown'), 'none');
  });
});
