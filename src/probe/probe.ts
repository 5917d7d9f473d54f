import type { TLSSocket } from 'node:tls';
import type { Redis } from 'ioredis';
import type { Clock } from '../shared/clock.ts';
import { usableAuth } from '../credentials/credential.ts';
import type { Credential, RedisAuth } from '../credentials/credential.ts';
import type { TargetConfig } from '../config/types.ts';
import type { CommandStep, CycleResult, CycleTrigger, Observations, Step, StepTiming } from '../shared/probe-result.ts';
import { classifyError, UnexpectedReplyError } from './classify-error.ts';
import { countClients, parseClientList } from './client-list.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { withTimeout } from '../shared/timeout.ts';
import { isReplyError, isUnknownCommand, openConnection as openRedisConnection, sendAuth, setUpSession } from './redis-connection.ts';
import { StepFailedError, timedStep } from './timed-step.ts';
import type { StepLimits } from './timed-step.ts';
import type { ConnectionFactory } from './redis-connection.ts';
import { describeError } from '../shared/error-text.ts';

/** One target's prober: owns its connection and turns a cycle into a CycleResult (never throws). */
export interface TargetProbe {
  readonly target: string;
  runCycle(trigger: CycleTrigger): Promise<CycleResult>;
  /** Notifies when an idle connection drops between cycles (for early detection). */
  onConnectionLost(listener: () => void): void;
  close(): Promise<void>;
}

/** What a probe needs from its surroundings. */
export interface ProbeDeps {
  readonly clock: Clock;
  readonly credential?: Credential;
  /** Distinguishes this daemon's keys and connections from other replicas'. */
  readonly instanceId: string;
  /** A fresh unguessable value for each SET. */
  readonly randomValue: () => string;
  readonly redactor: SecretRedactor;
  /** Seam for tests that need to observe or wrap connections. */
  readonly createConnection?: ConnectionFactory;
  /** Keep the parsed CLIENT LIST in the result (for `once`); the daemon needs only the count. */
  readonly listClients?: boolean;
}

/** Steps whose refusal for lack of permission or support is reported, not counted as a failure. */
const OPTIONAL_STEPS: ReadonlySet<CommandStep> = new Set(['client_list']);

/** The value a cycle SETs, and whether its SET has succeeded yet. */
interface ProbeWrite {
  readonly value: string;
  done: boolean;
}

export function createTargetProbe(target: TargetConfig, deps: ProbeDeps): TargetProbe {
  const { clock, credential } = deps;
  const connectionName = `redis-probe:${deps.instanceId}:${target.name}`;
  const key = `${target.key.prefix}${target.name}:${deps.instanceId}`;
  const ttlSeconds = Math.max(1, Math.ceil(target.key.ttlMs / 1000));
  const lostListeners: (() => void)[] = [];
  let client: Redis | undefined;
  let cycleRunning = false;
  let closed = false;
  let unsubscribeCredential: (() => void) | undefined;

  const dropConnection = (): void => {
    const old = client;
    client = undefined;
    if (old) {
      old.removeAllListeners('close');
      old.disconnect();
    }
  };

  const limits: StepLimits = { clock, timeoutMs: target.timeoutMs };
  const step = <T>(name: Step, timings: StepTiming[], work: () => Promise<T>): Promise<T> => timedStep(name, timings, limits, work);

  const openConnection = async (timings: StepTiming[], observations: Observations): Promise<Redis> => {
    dropConnection();
    // A cycle may wait here for a token: before any socket exists, and none is opened once close() ran.
    const auth = credential ? await currentAuth(credential, clock, target.timeoutMs) : undefined;
    if (closed) throw new StepFailedError('connect', new Error('the probe was closed'));
    const opened = openRedisConnection(target, deps.createConnection);
    const connection = opened.redis;
    client = connection;
    const session = { ...(auth ? { auth } : {}), name: connectionName, db: target.db };
    const openSession = () =>
      setUpSession(connection, session).catch((error: unknown) => {
        throw opened.rootCause(error);
      });
    await step('connect', timings, async () => {
      await opened.connect();
      if (!auth) await openSession();
    });
    const certNotAfterMs = peerCertificateExpiry(connection);
    if (certNotAfterMs !== undefined) observations.serverCertNotAfterMs = certNotAfterMs;
    if (auth) await step('auth', timings, openSession);
    connection.once('close', () => {
      if (client === connection && !cycleRunning && !closed) for (const listener of lostListeners) listener();
    });
    return connection;
  };

  if (credential) {
    // A rotated token is sent on the open connection so it never outlives its old token.
    unsubscribeCredential = credential.onChange((auth) => {
      const connection = client;
      if (connection?.status !== 'ready') return;
      withTimeout(sendAuth(connection, auth), target.timeoutMs, clock, 'auth').catch(() => {
        if (client === connection) dropConnection();
      });
    });
  }

  /** Sends one command step and checks its reply. */
  const sendCommand = async (name: CommandStep, connection: Redis, write: ProbeWrite, observations: Observations): Promise<void> => {
    switch (name) {
      case 'ping': {
        // Typed as 'PONG' by ioredis, but a proxy or a non-Redis server may answer anything.
        const reply: string = await connection.ping();
        observations.pingReply = reply;
        if (reply !== 'PONG') throw new UnexpectedReplyError(`PING answered ${JSON.stringify(reply).slice(0, 40)}, expected PONG`);
        return;
      }
      case 'set': {
        const reply: string = await connection.set(key, write.value, 'EX', ttlSeconds);
        observations.setReply = reply;
        if (reply !== 'OK') throw new UnexpectedReplyError('SET did not answer OK');
        write.done = true;
        return;
      }
      case 'get': {
        const reply = await connection.get(key);
        observations.getValue = reply;
        // Only a SET earlier in this cycle says what GET must read (before it, GET reads the previous
        // cycle's value or nothing); without one, GET still proves reads work.
        if (write.done && reply !== write.value) {
          throw new UnexpectedReplyError(reply === null ? 'GET found no value for the probe key' : 'GET returned a different value than was SET');
        }
        return;
      }
      case 'client_list': {
        const reply = await connection.client('LIST');
        if (typeof reply !== 'string') throw new UnexpectedReplyError('CLIENT LIST did not answer a string');
        observations.clientCount = countClients(reply);
        if (deps.listClients) observations.clients = parseClientList(reply);
        return;
      }
    }
  };

  const runCommands = async (connection: Redis, timings: StepTiming[], observations: Observations, unsupported: CommandStep[]) => {
    const write: ProbeWrite = { value: deps.randomValue(), done: false };
    for (const name of target.steps) {
      try {
        await step(name, timings, () => sendCommand(name, connection, write, observations));
      } catch (error) {
        const cause = error instanceof StepFailedError ? error.error : error;
        const reason = classifyError(cause);
        if (OPTIONAL_STEPS.has(name) && (reason === 'noperm' || isUnknownCommand(cause))) {
          unsupported.push(name);
          continue;
        }
        throw error;
      }
    }
  };

  return {
    target: target.name,
    onConnectionLost(listener) {
      lostListeners.push(listener);
    },
    async runCycle(trigger) {
      const startedAtMs = clock.now();
      const started = clock.monotonicMs();
      const timings: StepTiming[] = [];
      const observations: Observations = {};
      const unsupported: CommandStep[] = [];
      cycleRunning = true;
      const finish = (failure?: CycleResult['failure']): CycleResult => ({
        target: target.name,
        trigger,
        startedAtMs,
        durationMs: clock.monotonicMs() - started,
        success: failure === undefined,
        steps: timings,
        ...(failure ? { failure } : {}),
        unsupportedSteps: unsupported,
        observations,
      });
      try {
        const connection = client?.status === 'ready' ? client : await openConnection(timings, observations);
        await runCommands(connection, timings, observations, unsupported);
        return finish();
      } catch (error) {
        const failedStep = error instanceof StepFailedError ? error.step : 'connect';
        const cause = error instanceof StepFailedError ? error.error : error;
        const reason = classifyError(cause);
        // A session that failed to open, timed out or broke is in an unknown state: start afresh next cycle.
        // (A refused AUTH leaves the connection usable as the default user, so it must not be reused.)
        if (failedStep === 'connect' || failedStep === 'auth' || !isReplyError(cause)) dropConnection();
        return finish({ step: failedStep, reason, message: deps.redactor.redact(describeError(cause)) });
      } finally {
        cycleRunning = false;
      }
    },
    async close() {
      closed = true;
      unsubscribeCredential?.();
      const connection = client;
      client = undefined;
      if (!connection) return;
      connection.removeAllListeners('close');
      // A cycle still in flight is being abandoned (shutdown grace is over): its QUIT would only queue behind it.
      if (connection.status === 'ready' && !cycleRunning) {
        await withTimeout(connection.quit(), Math.min(target.timeoutMs, 1000), clock, 'quit').catch(() => undefined);
      }
      connection.disconnect();
    },
  };
}

/** Waits up to `timeoutMs` for a usable secret (see usableAuth); none fails the cycle at `auth`. */
async function currentAuth(credential: Credential, clock: Clock, timeoutMs: number): Promise<RedisAuth> {
  try {
    return await usableAuth(credential, clock, timeoutMs);
  } catch (error) {
    throw new StepFailedError('auth', error);
  }
}

/** The notAfter of the server certificate a TLS connection was given (undefined without TLS). */
function peerCertificateExpiry(connection: Redis): number | undefined {
  const socket = connection.stream as Partial<TLSSocket> | undefined;
  if (typeof socket?.getPeerCertificate !== 'function') return undefined;
  const notAfter = socket.getPeerCertificate().valid_to;
  const parsed = notAfter ? Date.parse(notAfter) : NaN;
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** What the daemon schedules for one configured target: one endpoint, or every node of a cluster. */
export interface TargetRunner {
  readonly target: string;
  /** One result per probed endpoint (several for a cluster, each with `node`). Never rejects. */
  run(trigger: CycleTrigger): Promise<readonly CycleResult[]>;
  /** Notifies when a connection drops between cycles, so the target can be probed at once. */
  onConnectionLost(listener: () => void): void;
  close(): Promise<void>;
}
