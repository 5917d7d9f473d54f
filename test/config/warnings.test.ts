import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.ts';
import { configWarnings, estimateLoad } from '../../src/config/warnings.ts';

const load = (text: string) => parseConfig(text, { env: {}, readFile: () => '', baseDir: '/' });
const manyTargets = (count: number, settings: string) =>
  `targets:\n${Array.from({ length: count }, (_, index) => `  - { name: t${index}, host: h${index}${settings} }`).join('\n')}\n`;

describe('configuration warnings', () => {
  it('a config at the defaults has none', () => {
    assert.deepEqual(configWarnings(load('targets: [{ name: a, host: h }, { name: b, host: h, db: 15 }]')), []);
  });

  it('10,000 targets every second with a 1 ms timeout: one warning for the load, one for the timeout, not one per target', () => {
    const config = load(`defaults: { schedule: "* * * * * *", timeout: 1ms }\n${manyTargets(10_000, '')}`);
    assert.deepEqual(configWarnings(config), [
      'targets[0], targets[1], targets[2] and 9997 more: timeout 1ms is below 10ms; a step over a network, or a timer on a busy event loop, rarely completes that fast, so cycles would fail with reason timeout on a healthy server',
      'this replica would run about 10000 cycles a second (10000 targets); above 1000 a second one process runs out of CPU and its cycles start late or are skipped: lengthen the schedules or spread the targets over replicas with shard.count',
    ]);
  });

  it('a timeout not below the schedule interval: a hung step would make the next cycle be skipped', () => {
    const config = load(
      'targets: [{ name: a, host: h, schedule: "*/5 * * * * *", timeout: 5s }, { name: b, host: h, schedule: "*/5 * * * * *", timeout: 4s }]',
    );
    assert.deepEqual(configWarnings(config), [
      "targets[0]: timeout 5s is not below the schedule's interval of 5s; a server that hangs holds a cycle until the timeout, and the next cycle is skipped: keep timeout below the interval",
    ]);
  });

  it('db above 15: servers have databases 0-15 unless configured with more', () => {
    assert.deepEqual(configWarnings(load('targets: [{ name: a, host: h, db: 99 }]')), [
      'targets[0]: db 99 is above 15; Redis and Azure Cache for Redis serve databases 0-15 unless their databases setting is raised, and SELECT would fail every cycle if database 99 does not exist',
    ]);
  });

  it('estimates the load of this replica only: its shard of the targets, per schedule', () => {
    const config = load(`shard: { index: 0, count: 2 }\ndefaults: { schedule: "*/10 * * * * *" }\n${manyTargets(100, ', steps: [ping]')}`);
    const estimate = estimateLoad(config);
    assert.ok(estimate.targets > 20 && estimate.targets < 80, `a share of the targets: ${estimate.targets}`);
    assert.equal(estimate.connections, estimate.targets);
    assert.ok(Math.abs(estimate.cyclesPerSecond - estimate.targets / 10) < 1e-9, String(estimate.cyclesPerSecond));
    assert.ok(Math.abs(estimate.commandsPerSecond - estimate.cyclesPerSecond) < 1e-9, 'one command per cycle');
  });
});
