/** Redis Cluster key slots: which slot a key hashes to, and a hash tag that lands on a given node. */

export const CLUSTER_SLOT_COUNT = 16384;

/** An inclusive range of hash slots served by one primary. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
}

// CRC16/XMODEM (polynomial 0x1021, initial 0), the hash Redis Cluster specifies for key slots.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i += 1) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The hash slot of `key`; like Redis, only the part inside the first non-empty `{...}` is hashed. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % CLUSTER_SLOT_COUNT;
  }
  return crc16(bytes) % CLUSTER_SLOT_COUNT;
}

export function slotInRanges(slot: number, ranges: readonly SlotRange[]): boolean {
  return ranges.some((range) => slot >= range.start && slot <= range.end);
}

// Decimal strings reach every one of the 16384 slots well before this; the bound only guards bad input.
const MAX_TAG_CANDIDATES = 2_000_000;

/**
 * The smallest decimal hash tag whose slot lies in `ranges`: a key containing `{tag}` is served by the
 * primary owning those ranges. Deterministic, so every daemon replica picks the same slot per node.
 */
export function hashTagForRanges(ranges: readonly SlotRange[]): string {
  const valid = ranges.filter((range) => range.start <= range.end && range.start >= 0 && range.end < CLUSTER_SLOT_COUNT);
  if (valid.length === 0) throw new RangeError('no valid slot range to pick a hash tag for');
  for (let candidate = 0; candidate < MAX_TAG_CANDIDATES; candidate += 1) {
    const tag = String(candidate);
    if (slotInRanges(keySlot(`{${tag}}`), valid)) return tag;
  }
  throw new RangeError('no hash tag found for the slot ranges');
}
