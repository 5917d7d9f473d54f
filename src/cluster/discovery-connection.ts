import type { TargetConfig } from '../config/types.ts';
import { usableAuth } from '../credentials/credential.ts';
import type { StepTiming } from '../shared/probe-result.ts';
import type { ProbeDeps } from '../probe/probe.ts';
import { isUnknownCommand, openConnection, sendAuth } from '../probe/redis-connection.ts';
import { StepFailedError, timedStep } from '../probe/timed-step.ts';
import { parseClusterShards, parseClusterSlots } from './discover.ts';
import type { ClusterTopology } from './discover.ts';

/** What a discovery connection needs: the probe's clock, credential and connection seam. */
export type DiscoveryDeps = Pick<ProbeDeps, 'clock' | 'credential' | 'createConnection'>;

/**
 * Opens a short-lived connection to `endpoint` (its TLS settings and credential, exactly like a probe
 * connection), reads CLUSTER SHARDS, or CLUSTER SLOTS on servers older than Redis 7, and closes it.
 * Timings of connect, auth and discover are appended to `timings`; failures throw StepFailedError.
 * `connectedHost` is where nodes announced without an endpoint (`?`) live.
 */
export async function fetchTopology(endpoint: TargetConfig, connectedHost: string, deps: DiscoveryDeps, timings: StepTiming[]): Promise<ClusterTopology> {
  const { clock } = deps;
  const opened = openConnection(endpoint, deps.createConnection);
  const connection = opened.redis;
  const limits = { clock, timeoutMs: endpoint.timeoutMs };
  try {
    await timedStep('connect', timings, limits, () => opened.connect());
    if (deps.credential) {
      // Waits for a token when none is usable (see usableAuth), outside the step so that none is reason `token`.
      const auth = await usableAuth(deps.credential, clock, endpoint.timeoutMs).catch((error: unknown) => {
        throw new StepFailedError('auth', error);
      });
      await timedStep('auth', timings, limits, () => sendAuth(connection, auth));
    }
    const context = { tls: endpoint.tls.enabled, connectedHost };
    return await timedStep('discover', timings, limits, async () => {
      try {
        return parseClusterShards(await connection.call('CLUSTER', 'SHARDS'), context);
      } catch (error) {
        // CLUSTER SHARDS arrived in Redis 7; Azure Cache for Redis 6 and other older servers only know SLOTS.
        if (!isUnknownCommand(error)) throw error;
        return parseClusterSlots(await connection.call('CLUSTER', 'SLOTS'), context);
      }
    });
  } finally {
    connection.disconnect();
  }
}
