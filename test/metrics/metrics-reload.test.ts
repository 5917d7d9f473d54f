import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../src/shared/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { DaemonConfig } from '../../src/config/types.ts';
import { createDaemon } from '../../src/daemon/daemon.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';
import { capturingLogger } from '../support/capturing-logger.ts';
import { ManualTickSource } from '../support/manual-tick-source.ts';
import { promtoolCheckMetrics, sampleValue } from '../support/prometheus-text.ts';

const COUNT = 1_000;

/** `count` targets with a shared label and one of ten others, so target_info's label set grows and shrinks with them. */
function config(count: number, extra: readonly string[] = []): DaemonConfig {
  const targets = Array.from(
    { length: count },
    (_, index) => `  - { name: t${index}, host: 127.0.0.1, port: ${10_000 + index}, labels: { team: shared, own${index % 10}: v${index} } }`,
  );
  const yaml = `defaults: { tls: { enabled: false } }\ntargets:\n${[...targets, ...extra].join('\n')}\n`;
  return parseConfig(yaml, { env: {}, readFile: () => '', baseDir: '/', hostname: () => 'test' });
}

const infoLines = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('redis_probe_target_info{'));

describe('a reload that adds or removes 1,000 targets', { timeout: 120_000 }, () => {
  it('drops every series of the removed targets and keeps target_info right, without rebuilding it per target', async () => {
    const daemon = createDaemon(config(COUNT), {
      clock: systemClock,
      logger: capturingLogger(),
      redactor: createSecretRedactor(),
      tickSource: new ManualTickSource(),
      instanceId: `reload-${randomUUID().slice(0, 8)}`,
      randomValue: randomUUID,
      random: Math.random,
      version: 'test',
    });
    const registry = daemon.metrics.registry;
    const before = await registry.metrics();
    assert.equal(infoLines(before).length, COUNT);
    assert.equal(sampleValue(before, 'redis_probe_target_info', { target: 't999', team: 'shared', own9: 'v999', own0: '' }), 1);

    // Every removal used to unregister target_info and register a new gauge for the remaining targets: N² work.
    const registrations = mock.method(registry, 'registerMetric');
    const removals = mock.method(registry, 'removeSingleMetric');
    const kept = '  - { name: kept, host: 127.0.0.1, port: 9999, labels: { zone: z } }';
    assert.equal(await daemon.applyConfig(config(0, [kept])), true);
    assert.ok(registrations.mock.callCount() + removals.mock.callCount() <= 2, `target_info re-registered ${registrations.mock.callCount()} times`);

    const after = await registry.metrics();
    const leftovers = after.split('\n').filter((line) => /target="t\d+"/.test(line));
    assert.deepEqual(leftovers.slice(0, 3), [], `${leftovers.length} series of removed targets remain`);
    assert.deepEqual(infoLines(after), ['redis_probe_target_info{host="127.0.0.1",port="9999",target="kept",tls="false",zone="z"} 1']);
    assert.ok(!/own\d+=/.test(after), 'label names of removed targets are gone');
    assert.deepEqual(daemon.board.snapshot(), []);

    // And back: 1,000 targets arrive in one reload.
    registrations.mock.resetCalls();
    removals.mock.resetCalls();
    assert.equal(await daemon.applyConfig(config(COUNT)), true);
    assert.ok(registrations.mock.callCount() + removals.mock.callCount() <= 2, `target_info re-registered ${registrations.mock.callCount()} times`);
    const again = await registry.metrics();
    assert.equal(infoLines(again).length, COUNT);
    assert.equal(sampleValue(again, 'redis_probe_target_info', { target: 't0', team: 'shared', own0: 'v0', own1: '' }), 1);
    assert.equal(sampleValue(again, 'redis_probe_target_info', { target: 'kept' }), undefined);
    const check = await promtoolCheckMetrics(again);
    assert.equal(check.code, 0, check.output);
    await daemon.stop();
  });
});
