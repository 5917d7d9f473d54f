/** Exit codes of `redis-probe sla` (README "SLA reporting"). */
export const SLA_EXIT = {
  ok: 0,
  usage: 2,
  /** Prometheus could not be reached, refused the query (auth included) or answered garbage. */
  prometheus: 3,
  /** No redis-probe series for the target(s), job and period. */
  noSeries: 4,
  /** The period cannot be read, is empty, or has not started. */
  timeRange: 5,
} as const;

export type SlaErrorKind = Exclude<keyof typeof SLA_EXIT, 'ok'>;

/** A failure of the report that the user can fix; the message names the fix. */
export class SlaError extends Error {
  override readonly name = 'SlaError';
  readonly kind: SlaErrorKind;

  constructor(kind: SlaErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }

  get exitCode(): number {
    return SLA_EXIT[this.kind];
  }
}
