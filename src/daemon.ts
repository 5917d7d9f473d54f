import type { Clock } from './clock.ts';
import type { DaemonConfig, TargetConfig } from './config/types.ts';
import type { Credential } from './credentials.ts';
import type { CredentialFactoryDeps } from './credential-factory.ts';
import { createCredential } from './credential-factory.ts';
import { logCycle, roundMs, stepMillis } from './cycle-log.ts';
import { startHttpServer } from './http-server.ts';
import type { HttpServer } from './http-server.ts';
import type { Logger } from './logging.ts';
import { createProbeMetrics } from './metrics.ts';
import type { ProbeMetrics, TargetMetrics } from './metrics.ts';
import { createTargetRunner } from './target-runner.ts';
import type { TargetRunner } from './target-runner.ts';
import type { CycleResult } from './probe-result.ts';
import { createScheduler } from './scheduler.ts';
import type { Scheduler, SchedulerObserver, TickSource } from './scheduler.ts';
import type { SecretRedactor } from './secrets.ts';
import { createStatusBoard } from './status-board.ts';
import type { StatusBoard } from './status-board.ts';

/** Everything the daemon takes from its composition root. */
export interface DaemonDeps extends CredentialFactoryDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
  readonly tickSource: TickSource;
  readonly instanceId: string;
  readonly randomValue: () => string;
  readonly version: string;
  /** Spread targets that share a schedule across its interval (default on; off only to measure bursts). */
  readonly stagger?: boolean;
  /** Also told about every scheduled run, after the daemon's own metrics and logs (benchmarks). */
  readonly schedulerObserver?: SchedulerObserver;
}

export interface Daemon {
  start(): Promise<void>;
  /** Stops scheduling, lets in-flight cycles end within the grace period, closes everything. */
  stop(): Promise<void>;
  readonly httpPort: number;
  readonly metrics: ProbeMetrics;
  readonly scheduler: Scheduler;
  readonly board: StatusBoard;
}

interface RunningTarget {
  readonly config: TargetConfig;
  readonly runner: TargetRunner;
  readonly metrics: TargetMetrics;
}

/** Wires config into credentials, probes, scheduler, metrics, logs and HTTP. */
export function createDaemon(config: DaemonConfig, deps: DaemonDeps): Daemon {
  const { clock, logger } = deps;
  const metrics = createProbeMetrics({ version: deps.version, stepHistograms: config.metrics.stepHistograms });
  const board = createStatusBoard();
  const targets = new Map<string, RunningTarget>();
  const credentials = new Map<string, Credential>(
    config.credentials.map((credentialConfig) => [credentialConfig.name, createCredential(credentialConfig, deps)]),
  );
  const extra = deps.schedulerObserver;
  const scheduler = createScheduler({
    tickSource: deps.tickSource,
    clock,
    ...(deps.stagger !== undefined ? { stagger: deps.stagger } : {}),
    observer: {
      onRunStarted: (job, latenessMs) => {
        metrics.observeLateness(latenessMs);
        extra?.onRunStarted?.(job, latenessMs);
      },
      onRunSkipped: (job) => {
        targets.get(job)?.metrics.recordSkipped();
        logger.warn('cycle skipped: the previous one is still running', { target: job });
        extra?.onRunSkipped?.(job);
      },
      onRunError: (job, error) => {
        logger.error('cycle crashed', { target: job, error: String(error) });
        extra?.onRunError?.(job, error);
      },
    },
  });
  let http: HttpServer | undefined;
  let started = false;

  const consume = (running: RunningTarget, results: readonly CycleResult[]): void => {
    for (const result of results) {
      running.metrics.record(result);
      const { changedFrom } = board.record(result);
      logCycle(logger, result, changedFrom);
    }
  };

  const addTarget = (targetConfig: TargetConfig): void => {
    const credential = targetConfig.credential !== undefined ? credentials.get(targetConfig.credential) : undefined;
    const runner = createTargetRunner(targetConfig, {
      clock,
      ...(credential ? { credential } : {}),
      instanceId: deps.instanceId,
      randomValue: deps.randomValue,
      redactor: deps.redactor,
    });
    const running: RunningTarget = {
      config: targetConfig,
      runner,
      metrics: metrics.registerTarget(targetConfig, { authenticated: credential !== undefined }),
    };
    targets.set(targetConfig.name, running);
    // A connection that drops between cycles is probed at once instead of at the next tick.
    runner.onConnectionLost(() => void scheduler.trigger(targetConfig.name, 'connection_lost'));
    scheduler.add({
      name: targetConfig.name,
      schedule: targetConfig.schedule,
      run: async (trigger) => consume(running, await runner.run(trigger)),
    });
  };

  /** Stops a target: no more cycles, connection closed, its series deleted. */
  const removeTarget = async (name: string): Promise<void> => {
    const running = targets.get(name);
    if (!running) return;
    targets.delete(name);
    await scheduler.remove(name);
    await running.runner.close();
    running.metrics.remove();
    board.remove(name);
  };
  void removeTarget;

  for (const targetConfig of config.targets) addTarget(targetConfig);

  return {
    metrics,
    scheduler,
    board,
    get httpPort() {
      return http?.port ?? 0;
    },
    async start() {
      http = await startHttpServer(config.server.host, config.server.port, {
        registry: metrics.registry,
        isLive: () => scheduler.isLive(),
        isReady: () => started && scheduler.running,
        status: () => ({ targets: board.snapshot().map(describeStatus) }),
        logger,
      });
      // A credential that fails here keeps retrying; its targets fail with reason `token` meanwhile.
      await Promise.all([...credentials.values()].map((credential) => credential.ready()));
      scheduler.start();
      started = true;
      logger.info('redis-probe started', {
        version: deps.version,
        targets: targets.size,
        listen: `${config.server.host}:${http.port}`,
      });
    },
    async stop() {
      started = false;
      const finished = await scheduler.stop(config.server.shutdownGraceMs);
      if (!finished) logger.warn('grace period over: abandoning cycles still in flight', { graceMs: config.server.shutdownGraceMs });
      await Promise.all([...targets.values()].map((running) => running.runner.close()));
      for (const credential of credentials.values()) credential.close();
      await http?.close();
    },
  };
}

function describeStatus(status: ReturnType<StatusBoard['snapshot']>[number]) {
  const result = status.lastResult;
  return {
    target: status.target,
    state: status.state,
    since: status.since !== undefined ? new Date(status.since).toISOString() : undefined,
    lastSuccess: status.lastSuccessAtMs !== undefined ? new Date(status.lastSuccessAtMs).toISOString() : null,
    lastCycle: result && {
      at: new Date(result.startedAtMs).toISOString(),
      trigger: result.trigger,
      durationMs: roundMs(result.durationMs),
      steps: stepMillis(result),
      failure: result.failure,
      unsupportedSteps: result.unsupportedSteps,
      clients: result.observations.clients?.length,
    },
  };
}
