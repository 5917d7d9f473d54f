import type { TargetConfig } from '../config/types.ts';
import { usableAuth } from '../credentials/credential.ts';
import type { Step, StepTiming } from '../shared/probe-result.ts';
import type { ProbeDeps } from '../probe/probe.ts';
import { openConnection, sendAuth } from '../probe/redis-connection.ts';
import { withTimeout } from '../shared/timeout.ts';
import { parseClusterShards, parseClusterSlots } from './discover.ts';
import type { ClusterTopology } from './discover.ts';

/** Reading the topology failed at `step`; `error` is the cause, for classifyError. */
export class DiscoveryFailedError extends Error {
  override readonly name = 'DiscoveryFailedError';
  readonly step: Step;
  readonly error: unknown;
  constructor(step: Step, error: unknown) {
    super(`cluster discovery failed at ${step}`);
    this.step = step;
    this.error = error;
  }
}

/** What a discovery connection needs: the probe's clock, credential and connection seam. */
export type DiscoveryDeps = Pick<ProbeDeps, 'clock' | 'credential' | 'createConnection'>;

/**
 * Opens a short-lived connection to `endpoint` (its TLS settings and credential, exactly like a probe
 * connection), reads CLUSTER SHARDS, or CLUSTER SLOTS on servers older than Redis 7, and closes it.
 * Timings of connect, auth and discover are appended to `timings`; failures throw DiscoveryFailedError.
 * `connectedHost` is where nodes announced without an endpoint (`?`) live.
 */
export async function fetchTopology(
  endpoint: TargetConfig,
  connectedHost: string,
  deps: DiscoveryDeps,
  timings: StepTiming[],
): Promise<ClusterTopology> {
  const { clock } = deps;
  const opened = openConnection(endpoint, deps.createConnection);
  const connection = opened.redis;
  const step = async <T>(name: Step, work: () => Promise<T>): Promise<T> => {
    const started = clock.monotonicMs();
    try {
      const value = await withTimeout(work(), endpoint.timeoutMs, clock, name);
      timings.push({ step: name, durationMs: clock.monotonicMs() - started });
      return value;
    } catch (error) {
      throw new DiscoveryFailedError(name, error);
    }
  };
  try {
    await step('connect', () => opened.connect());
    if (deps.credential) {
      // Waits for a token when none is usable (see usableAuth), outside the step so that none is reason `token`.
      const auth = await usableAuth(deps.credential, clock, endpoint.timeoutMs).catch((error: unknown) => {
        throw new DiscoveryFailedError('auth', error);
      });
      await step('auth', () => sendAuth(connection, auth));
    }
    const context = { tls: endpoint.tls.enabled, connectedHost };
    return await step('discover', async () => {
      try {
        return parseClusterShards(await connection.call('CLUSTER', 'SHARDS'), context);
      } catch (error) {
        // CLUSTER SHARDS arrived in Redis 7; Azure Cache for Redis 6 and other older servers only know SLOTS.
        if (!isUnknownSubcommand(error)) throw error;
        return parseClusterSlots(await connection.call('CLUSTER', 'SLOTS'), context);
      }
    });
  } finally {
    connection.disconnect();
  }
}

function isUnknownSubcommand(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /^ERR unknown (sub)?command/i.test(error.message);
}
