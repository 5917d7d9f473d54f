/** What `doctor` found for one target: one entry per layer of a connection, in the order they are crossed. */

/** Layers in order; `token` appears only for an Entra credential. */
export const LAYERS = ['dns', 'tcp', 'tls', 'token', 'auth', 'ping', 'set', 'get', 'client_list'] as const;
export type LayerName = (typeof LAYERS)[number];

/**
 * `unsupported`: the server refused an optional step for lack of permission or support (CLIENT LIST for a
 * least-privilege principal), which the daemon does not count as a failure either.
 */
export type LayerStatus = 'ok' | 'failed' | 'skipped' | 'unsupported';

export interface LayerReport {
  readonly layer: LayerName;
  readonly status: LayerStatus;
  /** Time the layer took; null when it did not run. */
  readonly ms: number | null;
  /** What was seen (addresses, certificate, server version...), or the error for a failed layer. */
  readonly detail: string;
  /** For a failed (or unsupported) layer: the likely cause and the fix. */
  readonly hint: string | null;
}

export interface TargetReport {
  readonly target: string;
  /** `host:port` as connected to, with TLS on or off, for the text heading. */
  readonly endpoint: string;
  readonly ok: boolean;
  readonly failedLayer: LayerName | null;
  readonly layers: readonly LayerReport[];
}
