import type { TargetConfig } from '../config/types.ts';
import { createTargetProbe } from '../probe/probe.ts';
import type { ProbeDeps, TargetRunner } from '../probe/probe.ts';
import { createClusterRunner } from '../cluster/cluster-runner.ts';

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
