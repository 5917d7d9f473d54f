import type { CommandStep } from '../shared/probe-result.ts';
import type { EntraSourceName } from './schema.ts';

/** The validated, fully resolved configuration: every default filled in, every file read. */
export interface DaemonConfig {
  readonly server: { readonly host: string; readonly port: number; readonly shutdownGraceMs: number; readonly webConfigFile?: string };
  /** `cycles: 'failures'` logs a successful cycle at debug only; `'all'` at info too. */
  readonly log: { readonly level: LogLevel; readonly format: 'json' | 'pretty'; readonly cycles: 'all' | 'failures' };
  /**
   * Series-count trade-offs: `detail` picks the layout (README, Series count), `stepHistograms: false` drops
   * per-step latency, `preinitialiseFailures` (default: true only with `detail: full`) starts failure series at 0.
   */
  readonly metrics: { readonly detail: MetricsDetail; readonly stepHistograms: boolean; readonly preinitialiseFailures: boolean };
  readonly credentials: readonly CredentialConfig[];
  readonly targets: readonly TargetConfig[];
  /** Added as a `location` label to every series, so probes from several regions can be compared. */
  readonly location?: string;
  /** This replica's share of the targets; absent: it probes them all. */
  readonly shard?: ShardConfig;
}

/** Which shard this replica is (0-based) and where that came from (for `validate`). */
export interface ShardConfig {
  readonly index: number;
  readonly count: number;
  readonly source: 'config' | 'env' | 'hostname';
}

/** standard: within about 40 series per target; full: failures by step × reason and fine latency buckets. */
export type MetricsDetail = 'standard' | 'full';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface AccessKeyCredentialConfig {
  readonly type: 'access-key';
  readonly name: string;
  readonly username?: string;
  readonly password: string;
}

export interface EntraCredentialConfig {
  readonly type: 'entra';
  readonly name: string;
  readonly source: EntraSourceName;
  readonly scope: string;
  readonly username?: string;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly authorityHost?: string;
  readonly disableInstanceDiscovery?: boolean;
  /** PEM contents of `authorityCa`. */
  readonly authorityCaPem?: string;
  readonly refreshBeforeExpiryMs: number;
  readonly requestTimeoutMs: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
}

export type CredentialConfig = AccessKeyCredentialConfig | EntraCredentialConfig;

export interface TlsConfig {
  readonly enabled: boolean;
  /** PEM contents, read at load time so a missing file is a config error, not a probe failure. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly verify: boolean;
}

/** How a clustered target's nodes are found and reached. */
export interface ClusterConfig {
  /** Announced `host:port` (as CLUSTER SHARDS/SLOTS report it) → the address to connect to instead. */
  readonly natMap: Readonly<Record<string, { readonly host: string; readonly port: number }>>;
  /** How often the topology is re-read even when nothing hints at a change. */
  readonly refreshMs: number;
}

export interface TargetConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly credential?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly schedule: string;
  readonly timeoutMs: number;
  readonly tls: TlsConfig;
  readonly key: { readonly prefix: string; readonly ttlMs: number };
  readonly steps: readonly CommandStep[];
  /** Set for a Redis Cluster (OSS cluster API): every primary is discovered and probed on its own. */
  readonly cluster?: ClusterConfig;
  /** The availability objective as a ratio (99.9 % in the file is 0.999 here), exported as redis_probe_sla_objective. */
  readonly sla: { readonly objective: number };
  /** Subscribe to Azure's AzureRedisEvents maintenance notifications (absent: off). */
  readonly maintenanceEvents?: boolean;
}
