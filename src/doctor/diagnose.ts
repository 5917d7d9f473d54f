import { Redis } from 'ioredis';
import type { Clock } from '../shared/clock.ts';
import { classifyErrorCause, UnexpectedReplyError } from '../probe/classify-error.ts';
import type { ClassifiedError, ConnectionPhase } from '../probe/classify-error.ts';
import { countClients } from '../probe/client-list.ts';
import type { CredentialConfig, TargetConfig } from '../config/types.ts';
import { createCredential } from '../credentials/credential-factory.ts';
import type { Credential, RedisAuth } from '../credentials/credential.ts';
import { CredentialUnavailableError } from '../credentials/credential.ts';
import type { TokenAcquiredEvent } from '../credentials/token-manager.ts';
import type { TokenRequestError } from '../credentials/token-request.ts';
import type { CommandStep } from '../shared/probe-result.ts';
import { openConnection, setUpSession } from '../probe/redis-connection.ts';
import type { ConnectionOptions } from '../probe/redis-connection.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { withTimeout } from '../shared/timeout.ts';
import { hintFor } from './hints.ts';
import { observeSocket, transportLayers } from './transport.ts';
import type { SocketTimeline } from './transport.ts';
import type { HintContext } from './hints.ts';
import { LAYERS } from './report.ts';
import type { LayerName, LayerReport, TargetReport } from './report.ts';
import { describeError, errorMessage } from '../shared/error-text.ts';

/** What diagnosing a target needs from the composition root. */
export interface DiagnoseDeps {
  readonly clock: Clock;
  readonly redactor: SecretRedactor;
  /** Part of the probe key and connection name, as the daemon's instance id is. */
  readonly instanceId: string;
  readonly randomValue: () => string;
  readonly random: () => number;
}

/** A layer that ended the walk: the report says where and why. */
class LayerFailed extends Error {
  override readonly name = 'LayerFailed';
  readonly layer: LayerName;
  readonly classified: ClassifiedError;
  readonly detail: string;
  /** How long the layer ran before it failed. */
  readonly ms: number | null;
  constructor(layer: LayerName, classified: ClassifiedError, detail: string, ms: number | null) {
    super(`${layer} failed`);
    this.layer = layer;
    this.classified = classified;
    this.detail = detail;
    this.ms = ms;
  }
}

/**
 * Walks one target's layers with the daemon's own connection, credential and classifier code, timing
 * DNS, TCP and TLS apart from the socket's events; never throws.
 */
export async function diagnoseTarget(target: TargetConfig, credentialConfig: CredentialConfig | undefined, deps: DiagnoseDeps): Promise<TargetReport> {
  const { clock } = deps;
  const layers = new Map<LayerName, LayerReport>();
  const context: { -readonly [K in keyof HintContext]: HintContext[K] } = { target, ...(credentialConfig ? { credential: credentialConfig } : {}) };
  const set = (layer: LayerName, status: LayerReport['status'], ms: number | null, detail: string, hint: string | null = null) =>
    layers.set(layer, {
      layer,
      status,
      ms: ms === null ? null : Math.round(ms * 10) / 10,
      detail: deps.redactor.redact(detail),
      hint: hint === null ? null : deps.redactor.redact(hint),
    });
  const fail = (layer: LayerName, error: unknown, ms: number | null, phase?: ConnectionPhase): LayerFailed =>
    new LayerFailed(layer, classifyErrorCause(error, { ...(phase ? { phase } : {}), tls: target.tls.enabled }), describeError(error), ms);

  let credential: Credential | undefined;
  let connection: Redis | undefined;
  const timeline: SocketTimeline = { lookups: [] };
  let failure: LayerFailed | undefined;
  try {
    // The token first: a missing token must not hide whether the network path works, so only auth waits for it.
    const token = credentialConfig ? startCredential(credentialConfig, deps) : undefined;
    credential = token?.credential;

    // ioredis arms a 2 s timer on disconnect even for a stream that already closed, which would hold the process open.
    const factory = (options: ConnectionOptions) => new Redis({ ...options, disconnectTimeout: 100 });
    const opened = openConnection(target, factory, (socket) => observeSocket(socket, timeline, clock));
    connection = opened.redis;
    const startedMs = clock.monotonicMs();
    let connectError: unknown;
    await withTimeout(opened.connect(), target.timeoutMs, clock, 'connect').catch((error: unknown) => {
      connectError = opened.rootCause(error);
    });
    const transport = transportLayers(target, timeline, startedMs, clock.monotonicMs(), connectError);
    for (const report of transport.reports) set(report.layer, report.status, report.ms, report.detail);
    if (transport.failed) throw fail(transport.failed.layer, connectError, transport.failed.ms, transport.failed.phase);

    let auth: RedisAuth | undefined;
    if (token) {
      const outcome = await token.outcome;
      auth = outcome.auth;
      if (credentialConfig?.type === 'entra') {
        if (!auth) throw fail('token', outcome.error, outcome.ms);
        const acquired = outcome.acquired;
        set(
          'token',
          'ok',
          outcome.ms,
          acquired
            ? `acquired; expires ${new Date(acquired.expiresAtMs).toISOString()} (in ${Math.round((acquired.expiresAtMs - clock.now()) / 60_000)} min); username (object id) ${acquired.principal}`
            : 'acquired',
        );
      } else if (!auth) {
        throw fail('auth', outcome.error, null);
      }
    }
    if (auth?.username !== undefined) context.principal = auth.username;

    const live = opened.redis;
    const name = `redis-probe:${deps.instanceId}:${target.name}`;
    const authStarted = clock.monotonicMs();
    const authMs = await timed(clock, () =>
      withTimeout(
        setUpSession(live, { ...(auth ? { auth } : {}), name, db: target.db }).catch((error: unknown) => {
          throw opened.rootCause(error);
        }),
        target.timeoutMs,
        clock,
        'auth',
      ),
    ).catch((error: unknown) => {
      throw fail('auth', error, clock.monotonicMs() - authStarted);
    });
    set(
      'auth',
      'ok',
      authMs,
      auth
        ? `AUTH accepted for the user ${auth.username ?? 'default'}${target.db !== 0 ? `, SELECT ${target.db}` : ''}`
        : 'no credential configured: the default user, no AUTH sent',
    );

    await runCommands(target, live, (error) => opened.rootCause(error), deps, context, set);
  } catch (error) {
    failure = error instanceof LayerFailed ? error : fail('auth', error, null);
  } finally {
    connection?.disconnect();
    credential?.close();
  }

  if (failure) {
    const hint = hintFor(failure.classified, { ...context, ...(isCommandStep(failure.layer) ? { step: failure.layer } : {}) });
    set(failure.layer, 'failed', failure.ms, failure.detail, hint);
  }
  const reports: LayerReport[] = [];
  for (const layer of LAYERS) {
    const report = layers.get(layer);
    if (report) reports.push(report);
    else if (layer !== 'token' || credentialConfig?.type === 'entra')
      reports.push({ layer, status: 'skipped', ms: null, detail: failure ? `not run: ${failure.layer} failed` : 'not run', hint: null });
  }
  return {
    target: target.name,
    endpoint: `${target.host}:${target.port}, TLS ${target.tls.enabled ? 'on' : 'off'}${credentialConfig ? `, credential ${credentialConfig.name} (${credentialConfig.type})` : ', no credential'}`,
    ok: failure === undefined,
    failedLayer: failure?.layer ?? null,
    layers: reports,
  };
}

interface TokenOutcome {
  /** From building the credential to its first token or failure. */
  readonly ms: number;
  readonly auth?: RedisAuth;
  readonly error?: unknown;
  readonly acquired?: TokenAcquiredEvent;
}

/** Builds the credential exactly as the daemon does, and settles once the first secret is there or has failed. */
function startCredential(config: CredentialConfig, deps: DiagnoseDeps) {
  const startedMs = deps.clock.monotonicMs();
  let acquired: TokenAcquiredEvent | undefined;
  let lastFailure: TokenRequestError | undefined;
  let credential: Credential | undefined;
  let outcome: Promise<TokenOutcome>;
  try {
    credential = createCredential(config, {
      redactor: deps.redactor,
      clock: deps.clock,
      random: deps.random,
      tokenObserver: () => ({
        onTokenAcquired: (event) => {
          acquired = event;
        },
        onRefreshFailed: (event) => {
          lastFailure = event.error;
        },
      }),
    });
    const built = credential;
    outcome = built.ready().then(() => {
      const ms = deps.clock.monotonicMs() - startedMs;
      try {
        return { ms, auth: built.current(), ...(acquired ? { acquired } : {}) };
      } catch (error) {
        // The manager's own failure carries its kind (network, rejected...); current() only says "no token".
        return { ms, error: lastFailure ?? error };
      }
    });
  } catch (error) {
    // E.g. workload identity without AZURE_CLIENT_ID: reported as a token that cannot be had here.
    outcome = Promise.resolve({ ms: 0, error: new CredentialUnavailableError(errorMessage(error)) });
  }
  return { credential, outcome };
}

/** Runs the target's command steps as the probe does; CLIENT LIST refused is `unsupported`, not a failure. */
async function runCommands(
  target: TargetConfig,
  connection: Redis,
  rootCause: (error: unknown) => unknown,
  deps: DiagnoseDeps,
  context: HintContext,
  set: (layer: LayerName, status: LayerReport['status'], ms: number | null, detail: string, hint?: string | null) => void,
): Promise<void> {
  const key = `${target.key.prefix}${target.name}:${deps.instanceId}`;
  const ttlSeconds = Math.max(1, Math.ceil(target.key.ttlMs / 1000));
  const value = deps.randomValue();
  const run = async (step: CommandStep, work: () => Promise<void>): Promise<number> => {
    const started = deps.clock.monotonicMs();
    try {
      await withTimeout(work(), target.timeoutMs, deps.clock, step);
    } catch (error) {
      const cause = rootCause(error);
      throw new LayerFailed(step, classifyErrorCause(cause), describeError(cause), deps.clock.monotonicMs() - started);
    }
    return deps.clock.monotonicMs() - started;
  };
  const commands: readonly CommandStep[] = ['ping', 'set', 'get', 'client_list'];
  for (const step of commands) {
    if (!target.steps.includes(step)) {
      set(step, 'skipped', null, "not in this target's steps");
      continue;
    }
    if (target.cluster && (step === 'set' || step === 'get')) {
      set(step, 'skipped', null, 'cluster target: each primary gets its own SET/GET (see `redis-probe once`); doctor checks the configured endpoint');
      continue;
    }
    switch (step) {
      case 'ping': {
        let reply: unknown;
        const ms = await run(step, async () => {
          reply = await connection.ping();
          if (reply !== 'PONG') throw new UnexpectedReplyError(`PING answered ${JSON.stringify(reply).slice(0, 40)}, expected PONG`);
        });
        set(step, 'ok', ms, `PONG${await serverInfo(connection, target, deps)}`);
        break;
      }
      case 'set': {
        const ms = await run(step, async () => {
          // Typed as 'OK' by ioredis, but a proxy or a non-Redis server may answer anything.
          const reply: string = await connection.set(key, value, 'EX', ttlSeconds);
          if (reply !== 'OK') throw new UnexpectedReplyError('SET did not answer OK');
        });
        set(step, 'ok', ms, `SET ${key} EX ${ttlSeconds}`);
        break;
      }
      case 'get': {
        const ms = await run(step, async () => {
          const reply = await connection.get(key);
          if (target.steps.includes('set') && reply !== value) {
            throw new UnexpectedReplyError(reply === null ? 'GET found no value for the probe key' : 'GET returned a different value than was SET');
          }
        });
        set(step, 'ok', ms, target.steps.includes('set') ? 'read back the value just written' : 'GET answered');
        break;
      }
      case 'client_list': {
        let count = 0;
        try {
          const ms = await run(step, async () => {
            const reply = await connection.client('LIST');
            if (typeof reply !== 'string') throw new UnexpectedReplyError('CLIENT LIST did not answer a string');
            count = countClients(reply);
          });
          set(step, 'ok', ms, `${count} clients connected`);
        } catch (error) {
          if (!(error instanceof LayerFailed)) throw error;
          const { cause } = error.classified;
          if (cause !== 'noperm' && cause !== 'unknown_command' && cause !== 'unknown_subcommand') throw error;
          // Like the daemon: a principal without CLIENT permission is normal (least privilege), so it is not a failure.
          set(step, 'unsupported', error.ms, `refused, not counted as a failure: ${error.detail}`, hintFor(error.classified, { ...context, step }));
        }
        break;
      }
    }
  }
}

/** Server version, mode and role from HELLO (any principal may run it); empty when refused or too old. */
async function serverInfo(connection: Redis, target: TargetConfig, deps: DiagnoseDeps): Promise<string> {
  try {
    const reply = await withTimeout(connection.call('HELLO', '2'), target.timeoutMs, deps.clock, 'hello');
    if (!Array.isArray(reply)) return '';
    const fields = new Map<string, string>();
    for (let index = 0; index + 1 < reply.length; index += 2) fields.set(String(reply[index]), String(reply[index + 1]));
    const mode = fields.get('mode');
    const clusterNote = mode === 'cluster' && !target.cluster ? '; a cluster: set cluster: true on the target' : '';
    return `; ${fields.get('server') ?? 'redis'} ${fields.get('version') ?? '?'}, ${mode ?? '?'}, ${fields.get('role') ?? '?'}${clusterNote}`;
  } catch {
    return '';
  }
}

function isCommandStep(layer: LayerName): layer is CommandStep {
  return layer === 'ping' || layer === 'set' || layer === 'get' || layer === 'client_list';
}

async function timed(clock: Clock, work: () => Promise<unknown>): Promise<number> {
  const started = clock.monotonicMs();
  await work();
  return clock.monotonicMs() - started;
}
