import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import type { CycleResult, Step } from '../../src/shared/probe-result.ts';
import { targetConfig } from '../support/target-config.ts';
import { promtoolCheckMetrics } from '../support/prometheus-text.ts';

/*
 * The series one target costs (issue 15: at most 40 at the default settings), counted from the exposition
 * text as Prometheus would ingest it: every sample line that carries the target's label.
 */

const BUDGET = 40;

function healthyCycle(authenticated: boolean): CycleResult {
  const steps: Step[] = ['connect', ...(authenticated ? (['auth'] as const) : []), 'ping', 'set', 'get', 'client_list'];
  return {
    target: 'a',
    trigger: 'schedule',
    startedAtMs: 1_700_000_000_000,
    durationMs: 2,
    success: true,
    steps: steps.map((step) => ({ step, durationMs: 0.3 })),
    unsupportedSteps: [],
    // TLS on: the certificate's expiry is a series of its own.
    observations: { clientCount: 3, ...(authenticated ? { serverCertNotAfterMs: 1_800_000_000_000 } : {}) },
  };
}

/** Series of target "a" after one healthy cycle: plain TCP without a credential, or TLS with one (the Azure case). */
async function seriesOfOneTarget(
  options: Parameters<typeof createProbeMetrics>[0],
  authenticated: boolean,
  maintenance = false,
): Promise<{ count: number; text: string }> {
  const metrics = createProbeMetrics({ defaultMetrics: false, ...options });
  // An Azure Cache for Redis host listens for maintenance notifications by default.
  if (maintenance) metrics.registerMaintenance('a');
  metrics.registerTarget(targetConfig({ name: 'a', port: 6380 }), { authenticated }).record(healthyCycle(authenticated));
  const text = await metrics.registry.metrics();
  const count = text.split('\n').filter((line) => !line.startsWith('#') && line.includes('target="a"')).length;
  return { count, text };
}

describe('series per target', () => {
  it(`stays within ${BUDGET} for an Azure cache with maintenance notifications, TLS and a credential`, async () => {
    const { count, text } = await seriesOfOneTarget({ version: '1' }, true, true);
    assert.ok(count <= BUDGET, `${count} series per target at the defaults, budget ${BUDGET}`);
    assert.equal(count, 36, 'one maintenance gauge; the event counters appear with their first notification');
    assert.match(text, /redis_probe_maintenance_in_progress\{target="a"\} 0/);
    const full = await seriesOfOneTarget({ version: '1', detail: 'full' }, true, true);
    assert.equal(full.count, 232 + 9, 'detail: full starts every event type at zero');
  });

  for (const authenticated of [false, true]) {
    const kind = authenticated ? 'TLS and a credential' : 'plain TCP, no credential';
    it(`stays within ${BUDGET} at the default settings (${kind})`, async () => {
      const { count, text } = await seriesOfOneTarget({ version: '1' }, authenticated);
      assert.ok(count <= BUDGET, `${count} series per target at the defaults, budget ${BUDGET}`);
      assert.equal(count, authenticated ? 35 : 32, 'a change to the series count is deliberate: update the README (Series count)');
      const check = await promtoolCheckMetrics(text);
      assert.equal(check.code, 0, check.output);
    });

    it(`restores step × reason and the fine buckets with detail: full (${kind})`, async () => {
      const { count, text } = await seriesOfOneTarget({ version: '1', detail: 'full' }, authenticated);
      assert.equal(count, authenticated ? 232 : 197, 'a change to the series count is deliberate: update the README (Series count)');
      const check = await promtoolCheckMetrics(text);
      assert.equal(check.code, 0, check.output);
    });
  }
});
