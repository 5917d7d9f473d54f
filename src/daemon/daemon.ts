import type { Clock } from '../shared/clock.ts';
import type { CredentialConfig, DaemonConfig, TargetConfig } from '../config/types.ts';
import { ConfigError, listenError } from '../config/config-error.ts';
import type { Credential } from '../credentials/credential.ts';
import type { CredentialFactoryDeps } from '../credentials/credential-factory.ts';
import { createCredential } from '../credentials/credential-factory.ts';
import { logCycle } from './cycle-log.ts';
import { startHttpServer } from '../http/http-server.ts';
import type { HttpServer } from '../http/http-server.ts';
import type { Logger } from '../logging/logger.ts';
import { createProbeMetrics } from '../metrics/probe-metrics.ts';
import type { MaintenanceMetrics, ProbeMetrics, TargetMetrics } from '../metrics/probe-metrics.ts';
import { createEarlyCycleLimiter } from './early-cycle.ts';
import { createMaintenanceMonitor } from '../maintenance/maintenance-monitor.ts';
import type { MaintenanceMonitor, MaintenanceMonitorDeps } from '../maintenance/maintenance-monitor.ts';
import { diffConfig } from './diff-config.ts';
import { ownedTargets } from '../config/shard.ts';
import { tokenTelemetry } from './token-telemetry.ts';
import { createTargetRunner } from './target-runner.ts';
import type { TargetRunner } from '../probe/probe.ts';
import type { CycleResult } from '../shared/probe-result.ts';
import { summarizeClusterCycle } from '../cluster/roll-up.ts';
import { createScheduler } from './scheduler.ts';
import type { Scheduler, SchedulerObserver, TickSource } from './scheduler.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { createStatusBoard, statusView } from './status-board.ts';
import type { StatusBoard } from './status-board.ts';
import { createCredentialStatus } from '../http/credential-status.ts';
import type { StatusReport } from '../http/status-page.ts';
import type { WebConfig } from '../http/web-config.ts';
import { describeError } from '../shared/error-text.ts';
import { settlesWithin } from '../shared/timeout.ts';

/** Everything the daemon takes from its composition root. */
export interface DaemonDeps extends Omit<CredentialFactoryDeps, 'tokenObserver'> {
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
  /** Least gap between two extra cycles of one target after lost connections (default 1 s). */
  readonly earlyCycleMinIntervalMs?: number;
  /** Maintenance subscriber retry delays and the in-progress safety timeout (tests shorten them). */
  readonly maintenance?: Pick<MaintenanceMonitorDeps, 'initialDelayMs' | 'maxDelayMs' | 'safetyTimeoutMs'>;
  /** TLS and basic auth for the HTTP endpoints (`--web.config.file`), read and checked at start. */
  readonly web?: WebConfig;
}

export interface Daemon {
  start(): Promise<void>;
  /** Stops scheduling, lets in-flight cycles end within the grace period, closes everything. */
  stop(): Promise<void>;
  readonly httpPort: number;
  readonly metrics: ProbeMetrics;
  readonly scheduler: Scheduler;
  readonly board: StatusBoard;
  /**
   * Applies a validated config: new targets start, removed ones stop and lose their series, changed ones
   * restart, unchanged ones keep running. Resolves false (the running config stays) if it cannot apply.
   */
  applyConfig(next: DaemonConfig): Promise<boolean>;
  /** Loads a config with `load` (which validates and throws ConfigError) and applies it; logs every issue. */
  reload(load: () => DaemonConfig, trigger: string): Promise<boolean>;
}

interface RunningTarget {
  readonly config: TargetConfig;
  readonly runner: TargetRunner;
  readonly metrics: TargetMetrics;
  readonly maintenance?: { readonly monitor: MaintenanceMonitor; readonly metrics: MaintenanceMetrics };
}

/** Wires config into credentials, probes, scheduler, metrics, logs and HTTP. */
export function createDaemon(config: DaemonConfig, deps: DaemonDeps): Daemon {
  const { clock, logger } = deps;
  const metrics = createProbeMetrics({
    version: deps.version,
    detail: config.metrics.detail,
    stepHistograms: config.metrics.stepHistograms,
    preinitialiseFailures: config.metrics.preinitialiseFailures,
    ...(config.location !== undefined ? { location: config.location } : {}),
  });
  // The initial load is the first successful one.
  metrics.recordReload(true, clock.now());
  /** The config that runs: start-up-only sections keep their original values across reloads. */
  let current = config;
  const board = createStatusBoard();
  const targets = new Map<string, RunningTarget>();
  const credentialStatus = createCredentialStatus();
  const tokenObserver = (name: string) => credentialStatus.observe(name, tokenTelemetry(metrics.registerCredential(name), logger));
  const makeCredential = (credentialConfig: CredentialConfig): Credential => createCredential(credentialConfig, { ...deps, tokenObserver });
  const initialTargets = ownedTargets(config.targets, config.shard);
  // Only credentials of targets this replica probes: another shard's Entra credential would fetch tokens for nothing.
  const used = new Set(initialTargets.flatMap((target) => (target.credential !== undefined ? [target.credential] : [])));
  const credentials = new Map<string, Credential>(
    config.credentials
      .filter((credentialConfig) => used.has(credentialConfig.name))
      .map((credentialConfig) => [credentialConfig.name, makeCredential(credentialConfig)]),
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
        logger.error('cycle crashed', { target: job, error: describeError(error) });
        extra?.onRunError?.(job, error);
      },
    },
  });
  let http: HttpServer | undefined;
  let httpStarting: Promise<HttpServer> | undefined;
  let started = false;
  let stopping = false;
  /** Targets a reload is stopping: stop() closes them too, so their in-flight cycles cannot outlast the grace. */
  const retiring = new Set<RunningTarget>();
  /** Credentials a reload created and has not installed yet: stop() closes them, which releases a ready() wait. */
  const pendingCredentials = new Set<Credential>();
  // Extra cycles after a lost connection: at most one in flight and one per interval per target.
  const earlyCycles = createEarlyCycleLimiter({
    clock,
    ...(deps.earlyCycleMinIntervalMs !== undefined ? { minIntervalMs: deps.earlyCycleMinIntervalMs } : {}),
    run: (name) => scheduler.trigger(name, 'connection_lost'),
  });

  const consume = (running: RunningTarget, results: readonly CycleResult[]): void => {
    if (running.config.cluster) {
      // One cluster cycle is one target outcome (metrics roll-up, board, state-change lines) plus a line per node.
      running.metrics.recordCluster(results);
      const { summary, representative } = summarizeClusterCycle(results);
      const change = board.record(summary);
      for (const result of results) logCycle(logger, result, result === representative ? change : { state: change.state, newlyUnsupported: [] }, config.log);
      return;
    }
    for (const result of results) {
      running.metrics.record(result);
      logCycle(logger, result, board.record(result), config.log);
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
      ...(targetConfig.maintenanceEvents ? { maintenance: watchMaintenance(targetConfig, credential) } : {}),
    };
    targets.set(targetConfig.name, running);
    // A connection that drops between cycles is probed at once instead of at the next tick.
    runner.onConnectionLost(() => earlyCycles.request(targetConfig.name));
    // Targets added by a reload subscribe at once; the initial ones once start() has the credentials ready.
    if (scheduler.running) running.maintenance?.monitor.start();
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
    retiring.add(running);
    earlyCycles.forget(name);
    running.maintenance?.monitor.close();
    await scheduler.remove(name);
    await running.runner.close();
    retiring.delete(running);
    running.metrics.remove();
    running.maintenance?.metrics.remove();
    board.remove(name);
  };

  /** Reloads run one at a time: a SIGHUP during a file-change reload waits its turn. Never rejects. */
  let reloading: Promise<boolean> = Promise.resolve(true);
  /** Set once the current reload starts changing what runs: a failure after that leaves it part-applied. */
  let reloadChanging = false;
  const serialised = (trigger: string, work: () => Promise<boolean>): Promise<boolean> => {
    const run = reloading.then(async () => {
      logger.debug('configuration reload started', { trigger });
      reloadChanging = false;
      try {
        return await work();
      } catch (error) {
        // Whatever breaks inside a reload is logged and counted, never swallowed.
        if (stopping) return abandoned(trigger);
        return reloadFailed(trigger, [deps.redactor.redact(describeError(error))], reloadChanging);
      }
    });
    reloading = run;
    return run;
  };

  const reloadFailed = (trigger: string, issues: readonly string[], partly = false): false => {
    metrics.recordReload(false, clock.now());
    logger.error(
      partly
        ? 'configuration reload failed part-way: some of it is in force; correct the configuration and reload, or restart'
        : 'configuration reload failed: the running configuration stays in force',
      { trigger, issues },
    );
    return false;
  };

  /** Shutdown began: a reload neither applies nor counts as failed. */
  const abandoned = (trigger: string): false => {
    logger.debug('configuration reload abandoned: shutting down', { trigger });
    return false;
  };

  const apply = async (next: DaemonConfig, trigger: string): Promise<boolean> => {
    if (stopping) return abandoned(trigger);
    const diff = diffConfig(current, next);
    // New credentials first: if one cannot be built, nothing has been touched yet.
    const created = new Map<string, Credential>();
    try {
      for (const credentialConfig of diff.credentialsToCreate) created.set(credentialConfig.name, makeCredential(credentialConfig));
    } catch (error) {
      for (const credential of created.values()) credential.close();
      return reloadFailed(trigger, error instanceof ConfigError ? error.issues : [deps.redactor.redact(describeError(error))]);
    }
    for (const credential of created.values()) pendingCredentials.add(credential);
    await Promise.all([...created.values()].map((credential) => credential.ready()));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the wait
    if (!stopping) {
      reloadChanging = true;
      // Waits for in-flight cycles of the targets it stops (stop() cuts that wait short).
      await Promise.all([...diff.removed, ...diff.changed.map((target) => target.name)].map((name) => removeTarget(name)));
    }
    for (const credential of created.values()) pendingCredentials.delete(credential);
    // Shutdown began while this reload waited: apply nothing more, and claim no success.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by stop() during the awaits
    if (stopping) {
      for (const credential of created.values()) credential.close();
      return abandoned(trigger);
    }
    for (const name of diff.credentialsToClose) {
      credentials.get(name)?.close();
      credentials.delete(name);
      if (!created.has(name)) metrics.registerCredential(name).remove();
    }
    for (const [name, credential] of created) credentials.set(name, credential);
    if (diff.locationChanged) metrics.setLocation(next.location);
    for (const target of [...diff.changed, ...diff.added]) addTarget(target);
    // Start-up-only sections keep their running values, so a later reload still reports them as pending.
    current = { ...next, server: current.server, log: current.log, metrics: current.metrics };
    metrics.recordReload(true, clock.now());
    if (diff.restartRequired.length > 0) {
      logger.warn('configuration change needs a restart to take effect; the rest was applied', { trigger, fields: diff.restartRequired });
    }
    logger.info('configuration reloaded', {
      trigger,
      added: diff.added.map((target) => target.name),
      removed: diff.removed,
      restarted: diff.changed.map((target) => target.name),
      unchanged: diff.unchanged.length,
      credentialsRecreated: diff.credentialsToCreate.map((credential) => credential.name),
      ...(diff.locationChanged ? { location: next.location ?? null } : {}),
    });
    return true;
  };

  function watchMaintenance(targetConfig: TargetConfig, credential: Credential | undefined): NonNullable<RunningTarget['maintenance']> {
    const maintenanceMetrics = metrics.registerMaintenance(targetConfig.name);
    const monitor = createMaintenanceMonitor(targetConfig, {
      clock,
      logger,
      redactor: deps.redactor,
      ...(credential ? { credential } : {}),
      instanceId: deps.instanceId,
      random: deps.random,
      sink: maintenanceMetrics,
      ...deps.maintenance,
    });
    return { monitor, metrics: maintenanceMetrics };
  }

  for (const targetConfig of initialTargets) addTarget(targetConfig);

  return {
    metrics,
    scheduler,
    board,
    get httpPort() {
      return http?.port ?? 0;
    },
    applyConfig: (next) => serialised('api', () => apply(next, 'api')),
    reload(load, trigger) {
      return serialised(trigger, async () => {
        if (stopping) return abandoned(trigger);
        let next: DaemonConfig;
        try {
          next = load();
        } catch (error) {
          return reloadFailed(trigger, error instanceof ConfigError ? error.issues : [deps.redactor.redact(describeError(error))]);
        }
        return apply(next, trigger);
      });
    },
    async start() {
      httpStarting = startHttpServer(
        config.server.host,
        config.server.port,
        {
          metrics: metrics.registry,
          isLive: () => scheduler.isLive(),
          isReady: () => started && scheduler.running,
          status: (): StatusReport => ({
            version: deps.version,
            location: current.location ?? null,
            shard: config.shard ? `${config.shard.index}/${config.shard.count}` : null,
            targets: board.snapshot().map(statusView),
            credentials: credentialStatus.snapshot(current.credentials.filter((credentialConfig) => credentials.has(credentialConfig.name))),
          }),
          logger,
        },
        deps.web ? { web: deps.web } : {},
      ).catch((error: unknown) => {
        throw listenError(config.server, error);
      });
      http = await httpStarting;
      if (stopping) return;
      // A credential that fails here keeps retrying; its targets fail with reason `token` meanwhile.
      await Promise.all([...credentials.values()].map((credential) => credential.ready()));
      // stop() was called while the first tokens were being fetched: start nothing.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by stop() during the await
      if (stopping) return;
      scheduler.start();
      for (const running of targets.values()) running.maintenance?.monitor.start();
      started = true;
      logger.info('redis-probe started', {
        version: deps.version,
        targets: targets.size,
        listen: `${config.server.host}:${http.port}`,
        ...(config.shard ? { shard: `${config.shard.index}/${config.shard.count}`, configuredTargets: config.targets.length } : {}),
        ...(config.location !== undefined ? { location: config.location } : {}),
      });
    },
    async stop() {
      started = false;
      stopping = true;
      earlyCycles.close();
      // Nothing runs before start() has started the scheduler, and closing the credentials releases a start()
      // still waiting for a first token.
      if (!scheduler.running) for (const credential of credentials.values()) credential.close();
      for (const credential of pendingCredentials) credential.close();
      for (const running of targets.values()) running.maintenance?.monitor.close();
      const graceMs = config.server.shutdownGraceMs;
      // One grace period for everything in flight: cycles, and a reload waiting on a cycle of a target it
      // restarts. A reload checks `stopping` after each wait, so it applies nothing once this has begun.
      const [cyclesEnded, reloadEnded] = await Promise.all([scheduler.stop(graceMs), settlesWithin(reloading, graceMs, clock)]);
      if (!cyclesEnded || !reloadEnded) logger.warn('grace period over: abandoning cycles still in flight', { graceMs });
      await Promise.all([...targets.values(), ...retiring].map((running) => running.runner.close()));
      for (const credential of credentials.values()) credential.close();
      const server = await httpStarting?.catch(() => undefined);
      await server?.close();
    },
  };
}
