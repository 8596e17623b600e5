/**
 * Every occurrence of a set of needles in a buffer, for stream-replace.ts's needle matcher (which
 * picks the leftmost-longest, non-overlapping ones). Plain needles and the pieces of needles with
 * line breaks (wrapped-needle.ts) go into one Wu-Manber pass (qgram-scan.ts); patterns too short
 * for it are found with Buffer#indexOf.
 */
import { buildQgramIndex, MIN_QGRAM_PATTERN, scanQgrams, type QgramIndex } from './qgram-scan.js';
import { matchAround, withBreaks, type WrappedNeedle } from './wrapped-needle.js';

export interface SearchNeedle {
  readonly from: Buffer;
  readonly to: Buffer;
  readonly wrapped: WrappedNeedle | null;
}

export interface Occurrence {
  start: number;
  end: number;
  to: Buffer;
  /** The needle's index: the first given wins among equally long matches at one start. */
  needle: number;
}

/** A searched pattern: a whole plain needle, or a piece of a wrapped one at `offset`. */
interface Pattern {
  readonly bytes: Buffer;
  readonly needle: number;
  readonly offset: number;
}

export interface NeedleSearch {
  readonly index: QgramIndex | null;
  readonly indexed: readonly Pattern[];
  readonly short: readonly Pattern[];
  readonly needles: readonly SearchNeedle[];
}

export function prepareSearch(needles: readonly SearchNeedle[]): NeedleSearch {
  const patterns: Pattern[] = [];
  needles.forEach((needle, i) => {
    if (needle.wrapped) for (const [offset, bytes] of needle.wrapped.pieces) patterns.push({ bytes, needle: i, offset });
    else patterns.push({ bytes: needle.from, needle: i, offset: 0 });
  });
  const indexed = patterns.filter((pattern) => pattern.bytes.length >= MIN_QGRAM_PATTERN);
  const short = patterns.filter((pattern) => pattern.bytes.length < MIN_QGRAM_PATTERN);
  const index = indexed.length > 0 ? buildQgramIndex(indexed.map((pattern) => pattern.bytes)) : null;
  return { index, indexed, short, needles };
}

/** All complete occurrences starting at or after `from`, sorted: by start, longest first, then by needle. */
export function findOccurrences(buf: Buffer, from: number, search: NeedleSearch): Occurrence[] {
  const found: Occurrence[] = [];
  const hit = (pattern: Pattern, at: number) => {
    const needle = search.needles[pattern.needle]!;
    if (!needle.wrapped) {
      found.push({ start: at, end: at + needle.from.length, to: needle.to, needle: pattern.needle });
      return;
    }
    const match = matchAround(buf, needle.wrapped, pattern.offset, pattern.bytes.length, at);
    if (match && match.start >= from) found.push({ start: match.start, end: match.end, to: withBreaks(needle.to, match.breaks), needle: pattern.needle });
  };
  if (search.index) scanQgrams(buf, from, search.index, (p, at) => hit(search.indexed[p]!, at));
  for (const pattern of search.short) {
    for (let at = buf.indexOf(pattern.bytes, from); at !== -1; at = buf.indexOf(pattern.bytes, at + 1)) hit(pattern, at);
  }
  // A wrapped needle is found once per unbroken piece: the same occurrence may be listed twice (harmless).
  if (found.length > 1) found.sort((a, b) => a.start - b.start || b.end - a.end || a.needle - b.needle);
  return found;
}
