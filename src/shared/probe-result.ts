/** The vocabulary shared by probes, schedulers and exporters: what a cycle measured. */

/** Every step a cycle can time, in order; `discover` is a cluster target's topology read (on refresh only). */
export const STEPS = ['connect', 'auth', 'discover', 'ping', 'set', 'get', 'client_list'] as const;
export type Step = (typeof STEPS)[number];

/** The commands a user may choose (and order) with `steps:`; connect/auth happen when needed. */
export const COMMAND_STEPS = ['ping', 'set', 'get', 'client_list'] as const;
export type CommandStep = (typeof COMMAND_STEPS)[number];

/** The closed set of failure reasons: label values never come from error text. */
export const FAILURE_REASONS = [
  'timeout',
  'connection_refused',
  'connection_reset',
  'dns',
  'tls',
  'auth',
  'token',
  'noperm',
  'readonly',
  'oom',
  'loading',
  'busy',
  'clusterdown',
  'moved',
  'tryagain',
  'unexpected_reply',
  'other',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Why a cycle ran: on schedule, or triggered early by a lost connection. */
export type CycleTrigger = 'schedule' | 'connection_lost' | 'manual';

export interface StepTiming {
  readonly step: Step;
  readonly durationMs: number;
}

export interface ClientInfo {
  readonly id: string;
  readonly addr: string;
  readonly name: string;
}

/** What the commands answered, for `once` output and the status page. */
export interface Observations {
  pingReply?: string;
  setReply?: string;
  getValue?: string | null;
  /** How many clients the last CLIENT LIST listed. */
  clientCount?: number;
  /** The parsed CLIENT LIST, only when the caller asked for it (`once`). */
  clients?: readonly ClientInfo[];
  /** The TLS server certificate's notAfter, read at connect. */
  serverCertNotAfterMs?: number;
}

export interface CycleFailure {
  readonly step: Step;
  readonly reason: FailureReason;
  /** Human-readable cause with secrets scrubbed; never used as a label. */
  readonly message: string;
}

/** One cycle against one target (or one node of a clustered target). */
export interface CycleResult {
  readonly target: string;
  /** Cluster node address; absent for single-endpoint targets. */
  readonly node?: string;
  readonly trigger: CycleTrigger;
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly success: boolean;
  readonly steps: readonly StepTiming[];
  readonly failure?: CycleFailure;
  /** Steps the server refused for lack of permission or support: not failures. */
  readonly unsupportedSteps: readonly CommandStep[];
  readonly observations: Observations;
}

/** Step durations as `{ping: 0.21, ...}` milliseconds, rounded for reading. */
export function stepMillis(result: CycleResult): Record<string, number> {
  return Object.fromEntries(result.steps.map((timing) => [timing.step, roundMs(timing.durationMs)]));
}

/** Milliseconds to three decimals (microsecond resolution), for logs and pages. */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;
