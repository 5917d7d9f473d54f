import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProbeMetrics } from '../../src/metrics/probe-metrics.ts';
import { targetConfig } from '../support/target-config.ts';

describe('metrics: redis_probe_sla_objective', () => {
  it('is one gauge per target holding its own objective, and leaves with the target', async () => {
    const metrics = createProbeMetrics({ version: '1', defaultMetrics: false });
    metrics.registerTarget(targetConfig({ name: 'a', port: 1, sla: { objective: 0.9995 } }), { authenticated: false });
    const b = metrics.registerTarget(targetConfig({ name: 'b', port: 2 }), { authenticated: false });
    let text = await metrics.registry.metrics();
    assert.match(text, /^# TYPE redis_probe_sla_objective gauge$/m);
    assert.match(text, /^redis_probe_sla_objective\{target="a"\} 0\.9995$/m);
    assert.match(text, /^redis_probe_sla_objective\{target="b"\} 0\.999$/m);
    b.remove();
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /redis_probe_sla_objective\{target="b"\}/);
  });
});
