import { SlaError } from './errors.ts';

/**
 * A service-credit tier: uptime below `belowPercent` (or below the target's objective) earns
 * `creditPercent` of the monthly fee. Defaults: the SLA for Azure Cache for Redis (10 % below the
 * objective, 25 % below 99 %) and Microsoft's consolidated Online Services SLA, which adds 100 %
 * below 95 % for many services.
 */
export interface CreditTier {
  readonly below: number | 'objective';
  readonly creditPercent: number;
}

export const DEFAULT_CREDIT_TIERS: readonly CreditTier[] = [
  { below: 'objective', creditPercent: 10 },
  { below: 99, creditPercent: 25 },
  { below: 95, creditPercent: 100 },
];

const percent = (text: string): number | undefined => {
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 0 && value <= 100 ? value : undefined;
};

/** `objective:10,99:25,95:100`: uptime threshold (percent, or `objective`) and credit percent, comma-separated. */
export function parseCreditTiers(text: string): CreditTier[] {
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.map((entry) => {
    const [threshold = '', credit = '', ...rest] = entry.split(':');
    const below = threshold === 'objective' ? 'objective' : percent(threshold);
    const creditPercent = percent(credit);
    if (rest.length > 0 || below === undefined || creditPercent === undefined) {
      throw new SlaError(
        'usage',
        `--credit-tiers: ${JSON.stringify(entry)} is not UPTIME:CREDIT; write e.g. objective:10,99:25,95:100 (uptime below UPTIME percent, or below the objective, earns CREDIT percent)`,
      );
    }
    return { below, creditPercent };
  });
}

/** The credit the uptime earns: the largest of the tiers it falls below, 0 when none. */
export function creditPercent(uptimePercent: number, objectivePercent: number, tiers: readonly CreditTier[]): number {
  let credit = 0;
  for (const tier of tiers) {
    const threshold = tier.below === 'objective' ? objectivePercent : tier.below;
    if (uptimePercent < threshold - EPSILON) credit = Math.max(credit, tier.creditPercent);
  }
  return credit;
}

/** Percentages are compared with a margin far below one minute in a month (about 0.0023 %). */
export const EPSILON = 1e-9;
