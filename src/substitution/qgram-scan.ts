/**
 * One pass over a buffer for many byte patterns at once (Wu-Manber): the cost of response
 * scrubbing stays about flat as a secret gets more needles (one Buffer#indexOf pass per needle
 * would not). Pure byte logic for stream-replace.ts's needle matcher.
 *
 * A window of m bytes (m = the shortest pattern, capped) slides over the buffer. The hash of its
 * last 3 bytes gives how far it may jump: the distance from the end of the window back to the
 * nearest place that 3-gram occurs in the first m bytes of any pattern (m - 2 when none). A
 * jump of 0 means some pattern may start at the window: those patterns are compared byte by byte.
 * Text full of the patterns' 3-grams jumps less; it is never wrong, only slower.
 */
const Q = 3;
/** Windows up to this long (a jump fits in a byte). */
const MAX_WINDOW = 255;
/**
 * Jump table size: 2^bits bytes, from 2 KiB (one secret's ~20 needles) up to 32 KiB for many
 * secrets, so that about 1 slot in 8 or fewer holds a pattern's 3-gram (more would shorten jumps).
 * Kept small because a proxy holds one table per recently used sandbox secret list.
 */
const MIN_HASH_BITS = 11;
const MAX_HASH_BITS = 15;

const hash3 = (a: number, b: number, c: number, mask: number) => ((a << 6) ^ (b << 3) ^ c) & mask;

export interface QgramIndex {
  readonly window: number;
  readonly patterns: readonly Buffer[];
  readonly shift: Uint8Array;
  readonly mask: number;
  /** hash -> indexes of the patterns whose first `window` bytes end with a 3-gram of that hash. */
  readonly candidates: ReadonlyMap<number, readonly number[]>;
}

/** The smallest pattern length the index can serve (shorter sets are searched another way). */
export const MIN_QGRAM_PATTERN = 6;

export function buildQgramIndex(patterns: readonly Buffer[]): QgramIndex {
  const window = Math.min(MAX_WINDOW, ...patterns.map((pattern) => pattern.length));
  if (window < MIN_QGRAM_PATTERN) throw new Error('qgram index: patterns too short');
  const qgrams = patterns.length * (window - Q + 1);
  const bits = Math.min(MAX_HASH_BITS, Math.max(MIN_HASH_BITS, Math.ceil(Math.log2(qgrams * 8))));
  const mask = (1 << bits) - 1;
  const shift = new Uint8Array(mask + 1).fill(window - Q + 1);
  const candidates = new Map<number, number[]>();
  patterns.forEach((pattern, index) => {
    for (let end = Q - 1; end < window; end++) {
      const h = hash3(pattern[end - 2]!, pattern[end - 1]!, pattern[end]!, mask);
      shift[h] = Math.min(shift[h]!, window - 1 - end);
    }
    const h = hash3(pattern[window - 3]!, pattern[window - 2]!, pattern[window - 1]!, mask);
    const list = candidates.get(h);
    if (list) list.push(index);
    else candidates.set(h, [index]);
  });
  return { window, patterns, shift, mask, candidates };
}

/** Calls `hit(pattern, start)` for every complete occurrence starting at or after `from`, by start. */
export function scanQgrams(buf: Buffer, from: number, index: QgramIndex, hit: (pattern: number, start: number) => void): void {
  const { window, patterns, shift, mask, candidates } = index;
  const length = buf.length;
  let end = from + window - 1;
  while (end < length) {
    const h = hash3(buf[end - 2]!, buf[end - 1]!, buf[end]!, mask);
    const jump = shift[h]!;
    if (jump > 0) {
      end += jump;
      continue;
    }
    const start = end - window + 1;
    for (const p of candidates.get(h) ?? []) {
      const pattern = patterns[p]!;
      if (start + pattern.length > length) continue;
      let k = 0;
      while (k < pattern.length && buf[start + k] === pattern[k]) k++;
      if (k === pattern.length) hit(p, start);
    }
    end += 1;
  }
}
