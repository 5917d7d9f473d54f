import type { TargetConfig } from '../../src/config/types.ts';

/** A resolved target for tests: plain TCP on loopback, short timeout, every step. */
export function targetConfig(overrides: Partial<TargetConfig> & Pick<TargetConfig, 'port'>): TargetConfig {
  return {
    name: 'test-target',
    host: '127.0.0.1',
    db: 0,
    labels: {},
    schedule: '*/15 * * * * *',
    timeoutMs: 1000,
    tls: { enabled: false, verify: true },
    key: { prefix: 'redis-probe:', ttlMs: 60_000 },
    steps: ['ping', 'set', 'get', 'client_list'],
    sla: { objective: 0.999 },
    ...overrides,
  };
}
