import type { CommandStep } from '../probe-result.ts';
import type { EntraSourceName } from './schema.ts';

/** The validated, fully resolved configuration: every default filled in, every file read. */
export interface DaemonConfig {
  readonly server: { readonly host: string; readonly port: number; readonly shutdownGraceMs: number };
  readonly log: { readonly level: LogLevel; readonly format: 'json' | 'pretty' };
  readonly credentials: readonly CredentialConfig[];
  readonly targets: readonly TargetConfig[];
}

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
}
