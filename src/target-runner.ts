import type { TargetConfig } from './config/types.ts';
import type { CycleResult, CycleTrigger } from './probe-result.ts';
import { createTargetProbe } from './probe.ts';
import type { ProbeDeps } from './probe.ts';
import { createClusterRunner } from './cluster/cluster-runner.ts';

/** What the daemon schedules for one configured target: one endpoint, or every node of a cluster. */
export interface TargetRunner {
  readonly target: string;
  /** One result per probed endpoint (several for a cluster, each with `node`). Never rejects. */
  run(trigger: CycleTrigger): Promise<readonly CycleResult[]>;
  /** Notifies when a connection drops between cycles, so the target can be probed at once. */
  onConnectionLost(listener: () => void): void;
  close(): Promise<void>;
}

/** Builds the runner a target's config asks for. */
export function createTargetRunner(target: TargetConfig, deps: ProbeDeps): TargetRunner {
  const { cluster } = target;
  if (cluster) return createClusterRunner({ ...target, cluster }, deps);
  const probe = createTargetProbe(target, deps);
  return {
    target: target.name,
    run: async (trigger) => [await probe.runCycle(trigger)],
    onConnectionLost: (listener) => probe.onConnectionLost(listener),
    close: () => probe.close(),
  };
}
