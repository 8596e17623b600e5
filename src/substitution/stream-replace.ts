/**
 * Byte-level find-and-replace over streams (request bodies, response scrubbing).
 *
 * Semantics (stream and one-shot alike): scanning left to right, at each position the leftmost
 * match wins; among matches starting at the same position the longest wins; among equally long
 * ones the first needle given wins. Replaced output is never rescanned (non-overlapping).
 *
 * Streaming: with L = the longest needle, the stream holds back at most L - 1 bytes (the only
 * bytes whose fate can depend on data not yet seen), and only from the first position where a
 * needle's prefix starts (usually nothing, so most chunks pass without a copy). A match that starts at least L - 1 bytes
 * before the end of what has arrived is complete and cannot be beaten by a longer one, so it is
 * decided at once. Memory is therefore constant for any stream size; backpressure is the
 * standard Transform's.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { isAlnumCode, PLACEHOLDER_LENGTH, PLACEHOLDER_PREFIX } from './compile.js';
import { findOccurrences, prepareSearch } from './needle-search.js';
import { isWrappedPrefix, wrappedNeedle, type WrappedNeedle } from './wrapped-needle.js';

export type MatchVisitor = (start: number, end: number, replacement: Buffer) => void;

export interface Matcher {
  /** Length of the longest possible match (>= 1). */
  readonly maxLength: number;
  /** Optional: length of the shortest possible match (data shorter than this cannot contain one). */
  readonly minLength?: number;
  /**
   * Calls `visit` for every match of `buf` in order (leftmost-longest, non-overlapping) whose
   * start is in [from, limit) and whose end is <= buf.length. The caller guarantees that every
   * match starting before `limit` is complete within `buf` (limit <= buf.length - maxLength + 1)
   * unless `buf` is the end of the data. Stateless between calls.
   */
  forEachMatch(buf: Buffer, from: number, limit: number, visit: MatchVisitor): void;
  /**
   * Optional: the first position p >= from (from >= buf.length - maxLength + 1) where a match
   * could start, complete or needing more data (buf.length when none): bytes before it can be
   * emitted. Lets the stream hold back less than maxLength - 1.
   */
  pendingStart?(buf: Buffer, from: number): number;
}

export interface ReplacePair {
  from: Buffer;
  to: Buffer;
  /**
   * Up to this many line breaks (CRLF or LF) may sit between bytes of `from` (MIME base64); they
   * are kept in the output, inside `to`. `from` must not contain CR or LF. Default 0.
   */
  lineBreaks?: number;
}

/** One needle of needleMatcher: its bytes, or its bytes with possible line breaks. */
interface Needle {
  readonly pair: ReplacePair;
  readonly wrapped: WrappedNeedle | null;
  /** Longest match (the bytes plus the most line breaks, 2 bytes each). */
  readonly maxLength: number;
}

/** A matcher for arbitrary byte needles. Empty needles are ignored. */
export function needleMatcher(pairs: readonly ReplacePair[]): Matcher {
  const needles: Needle[] = pairs
    .filter((pair) => pair.from.length > 0)
    .map((pair) => {
      const breaks = Math.min(pair.lineBreaks ?? 0, pair.from.length - 1);
      return { pair, wrapped: breaks > 0 ? wrappedNeedle(pair.from, breaks) : null, maxLength: pair.from.length + 2 * breaks };
    });
  const maxLength = Math.max(1, ...needles.map((needle) => needle.maxLength));
  const minLength = needles.length === 0 ? Infinity : Math.min(...needles.map((needle) => needle.pair.from.length));
  /** byFirstByte[b]: the needles starting with byte b (a match, or a held-back prefix, can only start there). */
  const byFirstByte: Needle[][] = Array.from({ length: 256 }, () => []);
  for (const needle of needles) byFirstByte[needle.pair.from[0]!]!.push(needle);
  const search = prepareSearch(needles.map(({ pair, wrapped }) => ({ from: pair.from, to: pair.to, wrapped })));
  return {
    maxLength,
    minLength,
    forEachMatch(buf, from, limit, visit) {
      if (needles.length === 0) return;
      // All occurrences, sorted by start then longest first: taking each one that starts after the
      // previous taken one ended is exactly leftmost-longest, non-overlapping.
      let position = from;
      for (const found of findOccurrences(buf, from, search)) {
        if (found.start < position) continue;
        if (found.start >= limit) return;
        visit(found.start, found.end, found.to);
        position = found.end;
      }
    },
    pendingStart(buf, from) {
      // Runs on the last maxLength - 1 bytes of every chunk: byte loops, not Buffer#compare (a
      // native call per position and needle costs more than the search itself on small chunks).
      for (let p = Math.max(from, buf.length - maxLength + 1); p < buf.length; p++) {
        for (const { pair, wrapped } of byFirstByte[buf[p]!]!) {
          // a complete (short) needle here is undecided too: a longer one may start at p
          if (wrapped ? isWrappedPrefix(buf, p, wrapped) : isPrefixAt(buf, p, pair.from)) return p;
        }
      }
      return buf.length;
    },
  };
}

/** Are the bytes from `p` to the end of `buf` (or the whole needle, if shorter) the start of `needle`? */
function isPrefixAt(buf: Buffer, p: number, needle: Buffer): boolean {
  const length = Math.min(buf.length - p, needle.length);
  for (let k = 0; k < length; k++) if (buf[p + k] !== needle[k]) return false;
  return true;
}

const PREFIX = Buffer.from(PLACEHOLDER_PREFIX, 'latin1');

/**
 * Fast matcher for the placeholder shape: finds `veil_` + 32 [A-Za-z0-9] and asks `lookup` for
 * the replacement (null: leave this candidate, e.g. an unknown or disallowed placeholder).
 * `lookup` is called once per candidate that is decided, in stream order.
 */
export function placeholderMatcher(lookup: (placeholder: string) => Buffer | null): Matcher {
  return {
    maxLength: PLACEHOLDER_LENGTH,
    forEachMatch(buf, from, limit, visit) {
      let start = buf.indexOf(PREFIX, from);
      while (start !== -1 && start < limit) {
        const end = start + PLACEHOLDER_LENGTH;
        let candidate = end <= buf.length;
        for (let k = start + PREFIX.length; candidate && k < end; k++) candidate = isAlnumCode(buf[k]!);
        const replacement = candidate ? lookup(buf.toString('latin1', start, end)) : null;
        if (replacement !== null) {
          visit(start, end, replacement);
          start = buf.indexOf(PREFIX, end);
        } else {
          start = buf.indexOf(PREFIX, start + 1);
        }
      }
    },
    pendingStart(buf, from) {
      next: for (let p = Math.max(from, buf.length - PLACEHOLDER_LENGTH + 1); p < buf.length; p++) {
        for (let k = 0; p + k < buf.length; k++) {
          const byte = buf[p + k]!;
          if (k < PREFIX.length ? byte !== PREFIX[k] : !isAlnumCode(byte)) continue next;
        }
        return p;
      }
      return buf.length;
    },
  };
}

function toMatcher(spec: readonly ReplacePair[] | Matcher): Matcher {
  return Array.isArray(spec) ? needleMatcher(spec as readonly ReplacePair[]) : (spec as Matcher);
}

/**
 * Processes `buf`: decided output pieces and how many bytes at the end stay undecided.
 * `final`: no more data follows.
 */
function processBuffer(matcher: Matcher, buf: Buffer, final: boolean): { pieces: Buffer[]; keepFrom: number } {
  // The end of the data and too short to hold any match: nothing to find.
  if (final && matcher.minLength !== undefined && buf.length < matcher.minLength) return { pieces: buf.length > 0 ? [buf] : [], keepFrom: buf.length };
  const limit = final ? buf.length : Math.max(0, buf.length - matcher.maxLength + 1);
  const pieces: Buffer[] = [];
  let copied = 0;
  matcher.forEachMatch(buf, 0, limit, (start, end, replacement) => {
    if (start > copied) pieces.push(buf.subarray(copied, start));
    if (replacement.length > 0) pieces.push(replacement);
    copied = end;
  });
  let keepFrom = Math.max(copied, limit);
  if (!final && matcher.pendingStart) keepFrom = matcher.pendingStart(buf, keepFrom);
  if (keepFrom > copied) pieces.push(buf.subarray(copied, keepFrom));
  return { pieces, keepFrom };
}

/** One-shot replacement of a whole buffer (small bodies, headers). Returns `buf` itself when nothing matched. */
export function replaceAll(buf: Buffer, spec: readonly ReplacePair[] | Matcher): Buffer {
  const { pieces } = processBuffer(toMatcher(spec), buf, true);
  if (pieces.length === 1 && pieces[0]!.length === buf.length && pieces[0]!.buffer === buf.buffer && pieces[0]!.byteOffset === buf.byteOffset) return buf;
  return Buffer.concat(pieces);
}

const EMPTY = Buffer.alloc(0);

/**
 * The streaming replacement as plain synchronous calls (no stream machinery): `push` each chunk in
 * order and send what it returns, then `end()` once. Same output as ReplaceStream, which uses it.
 */
export class Replacer {
  private pending: Buffer = EMPTY;

  constructor(private readonly matcher: Matcher) {}

  /** Bytes currently held back (always <= longest needle - 1). */
  get heldBackBytes(): number {
    return this.pending.length;
  }

  /** The decided output for everything pushed so far (null when nothing is decided yet). */
  push(bytes: Buffer): Buffer | null {
    return joinPieces(this.decide(bytes));
  }

  /**
   * As push, but appends the decided pieces to `out` without joining them (a caller that collects
   * the whole output saves a copy). Returns how many bytes it appended.
   */
  pushInto(bytes: Buffer, out: Buffer[]): number {
    return appendAll(out, this.decide(bytes));
  }

  /** The rest, at the end of the data (null when nothing is left). */
  end(): Buffer | null {
    return joinPieces(this.rest());
  }

  /** As end, appending to `out`; returns how many bytes it appended. */
  endInto(out: Buffer[]): number {
    return appendAll(out, this.rest());
  }

  private decide(bytes: Buffer): Buffer[] {
    if (bytes.length === 0) return [];
    const data = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const { pieces, keepFrom } = processBuffer(this.matcher, data, false);
    // Copy the tail so a held-back slice does not pin a large chunk in memory.
    this.pending = keepFrom < data.length ? Buffer.from(data.subarray(keepFrom)) : EMPTY;
    return pieces;
  }

  private rest(): Buffer[] {
    if (this.pending.length === 0) return [];
    const { pieces } = processBuffer(this.matcher, this.pending, true);
    this.pending = EMPTY;
    return pieces;
  }
}

/**
 * The whole replaced output of a sequence of chunks, joined once at the end (one copy): for bodies
 * that are collected before they are sent.
 */
export class ReplacedCollector {
  private readonly pieces: Buffer[] = [];
  private size = 0;

  constructor(private readonly replacer: Replacer) {}

  push(chunk: Buffer): void {
    this.size += this.replacer.pushInto(chunk, this.pieces);
  }

  /** Everything, replaced; call once, after the last push. */
  finish(): Buffer {
    this.size += this.replacer.endInto(this.pieces);
    if (this.pieces.length === 0) return EMPTY;
    return this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.size);
  }
}

function appendAll(out: Buffer[], pieces: Buffer[]): number {
  let size = 0;
  for (const piece of pieces) {
    out.push(piece);
    size += piece.length;
  }
  return size;
}

function joinPieces(pieces: Buffer[]): Buffer | null {
  if (pieces.length === 0) return null;
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** A Transform that replaces matches in a byte stream; see the module comment. */
export class ReplaceStream extends Transform {
  private readonly replacer: Replacer;

  constructor(spec: readonly ReplacePair[] | Matcher) {
    super();
    this.replacer = new Replacer(toMatcher(spec));
  }

  /** Bytes currently held back (always <= longest needle - 1). */
  get heldBackBytes(): number {
    return this.replacer.heldBackBytes;
  }

  // A matcher may throw (e.g. a disallowed placeholder in block mode, body.ts): the stream fails
  // with that error and nothing of the chunk being processed is emitted.
  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    let out: Buffer | null;
    try {
      out = this.replacer.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    } catch (error) {
      return callback(error as Error);
    }
    if (out !== null) this.push(out);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    let out: Buffer | null;
    try {
      out = this.replacer.end();
    } catch (error) {
      return callback(error as Error);
    }
    if (out !== null) this.push(out);
    callback();
  }
}

export function createReplaceStream(spec: readonly ReplacePair[] | Matcher): ReplaceStream {
  return new ReplaceStream(spec);
}
