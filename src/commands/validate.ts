import type { DaemonConfig } from '../config/types.ts';
import { formatDurationMs } from '../config/duration.ts';
import { configWarnings, estimateLoad } from '../config/warnings.ts';
import { ownedTargets } from '../config/shard.ts';
import type { WebConfig } from '../http/web-config.ts';
import { EXIT_OK } from './exit-codes.ts';

function describeWeb(web: WebConfig | undefined): string {
  if (!web) return 'plain HTTP, no authentication';
  const users = web.basicAuthUsers.size;
  const tls = web.tls ? `TLS (min ${web.tls.minVersion}, client certificates: ${web.tls.clientAuth})` : 'plain HTTP';
  return `${tls}, ${users > 0 ? `basic auth (${users} user${users > 1 ? 's' : ''})` : 'no basic auth'} on /metrics and /`;
}

/** `redis-probe validate`: prints what the config would run, its load and its warnings. */
export function validateCommand(config: DaemonConfig, web?: WebConfig): number {
  const schedules = [...new Set(config.targets.map((target) => target.schedule))];
  process.stdout.write(
    [
      'configuration is valid',
      `  targets: ${config.targets.length} (${config.targets.map((target) => target.name).join(', ')})`,
      `  credentials: ${config.credentials.length}${config.credentials.length ? ` (${config.credentials.map((c) => `${c.name}: ${c.type}`).join(', ')})` : ''}`,
      `  schedules: ${schedules.join(', ')}`,
      `  timeouts: ${[...new Set(config.targets.map((target) => formatDurationMs(target.timeoutMs)))].join(', ')}`,
      `  http: ${config.server.host}:${config.server.port}, ${describeWeb(web)}`,
      `  location: ${config.location ?? 'none (no location label)'}`,
      `  shard: ${describeShard(config)}`,
      `  load: ${describeLoad(config)}`,
      ...warningLines(configWarnings(config)),
      '',
    ].join('\n'),
  );
  return EXIT_OK;
}

function describeLoad(config: DaemonConfig): string {
  const load = estimateLoad(config);
  const perSecond = (rate: number) => (rate >= 10 ? Math.round(rate) : Number(rate.toFixed(2)));
  return `about ${perSecond(load.cyclesPerSecond)} cycles a second, ${perSecond(load.commandsPerSecond)} commands a second, ${load.connections} connections held open`;
}

function warningLines(warnings: readonly string[]): string[] {
  return warnings.length === 0 ? [] : ['warnings:', ...warnings.map((warning) => `  - ${warning}`)];
}

function describeShard(config: DaemonConfig): string {
  const { shard } = config;
  if (!shard) return `none (this replica probes all ${config.targets.length} targets)`;
  const owned = ownedTargets(config.targets, shard).map((target) => target.name);
  const from = { config: 'shard.index', env: 'REDIS_PROBE_SHARD_INDEX', hostname: 'the host name' }[shard.source];
  return `${shard.index} of ${shard.count} (index from ${from}); probes ${owned.length} of ${config.targets.length} targets${owned.length ? ` (${owned.join(', ')})` : ''}`;
}
