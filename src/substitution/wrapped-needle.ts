/**
 * Finding a needle whose bytes may be interrupted by line breaks (CRLF or LF), at most
 * `maxBreaks` of them: MIME base64, wrapped at 76 columns, where the break can fall anywhere in
 * the value's encoding. Pure byte logic for stream-replace.ts's needle matcher.
 *
 * Search: the needle is cut into maxBreaks + 1 pieces; a match has at most maxBreaks breaks, so at
 * least one piece appears unbroken (pigeonhole). Each piece is searched like a plain needle
 * (needle-search.ts) and the match is then checked outwards from it, stepping over breaks. The
 * needle must contain neither CR nor LF (base64 does not), so stepping over them is never
 * ambiguous: every piece of one occurrence leads to the same match.
 */
const CR = 13;
const LF = 10;

export interface WrappedNeedle {
  readonly bytes: Buffer;
  readonly maxBreaks: number;
  /** [offset in bytes, piece] */
  readonly pieces: readonly (readonly [number, Buffer])[];
}

export interface WrappedMatch {
  start: number;
  end: number;
  /** Line breaks inside the match: before needle byte `at`, the break's own bytes. */
  breaks: { at: number; bytes: Buffer }[];
}

export function wrappedNeedle(bytes: Buffer, maxBreaks: number): WrappedNeedle {
  const count = Math.min(maxBreaks + 1, bytes.length);
  const pieces: [number, Buffer][] = [];
  for (let i = 0; i < count; i++) {
    const start = Math.floor((i * bytes.length) / count);
    const end = Math.floor(((i + 1) * bytes.length) / count);
    pieces.push([start, bytes.subarray(start, end)]);
  }
  return { bytes, maxBreaks, pieces };
}

/** The match around an unbroken occurrence of piece `offset` (length `pieceLength`) at `at`, or null. */
export function matchAround(buf: Buffer, needle: WrappedNeedle, offset: number, pieceLength: number, at: number): WrappedMatch | null {
  const { bytes, maxBreaks } = needle;
  const breaks: WrappedMatch['breaks'] = [];
  let j = at - 1;
  for (let k = offset - 1; k >= 0; ) {
    if (j < 0) return null;
    if (buf[j] === bytes[k]) {
      j--;
      k--;
    } else if (buf[j] === LF && breaks.length < maxBreaks) {
      const end = j + 1;
      j -= j > 0 && buf[j - 1] === CR ? 2 : 1;
      breaks.unshift({ at: k + 1, bytes: buf.subarray(j + 1, end) });
    } else return null;
  }
  const start = j + 1;
  j = at + pieceLength;
  for (let k = offset + pieceLength; k < bytes.length; ) {
    if (j >= buf.length) return null;
    if (buf[j] === bytes[k]) {
      j++;
      k++;
      continue;
    }
    const length = buf[j] === LF ? 1 : buf[j] === CR && buf[j + 1] === LF ? 2 : 0;
    if (length === 0 || breaks.length >= maxBreaks) return null;
    breaks.push({ at: k, bytes: buf.subarray(j, j + length) });
    j += length;
  }
  return { start, end: j, breaks };
}

/** Is buf[p..] the beginning of a match (a held-back prefix that more data may complete)? */
export function isWrappedPrefix(buf: Buffer, p: number, needle: WrappedNeedle): boolean {
  const { bytes, maxBreaks } = needle;
  let breaks = 0;
  let k = 0;
  for (let j = p; j < buf.length; ) {
    if (k === bytes.length) return true;
    if (buf[j] === bytes[k]) {
      j++;
      k++;
      continue;
    }
    // A break is only inside the needle, never before its first byte.
    if (k === 0 || breaks >= maxBreaks) return false;
    if (buf[j] === LF) j++;
    else if (buf[j] === CR && (j + 1 === buf.length || buf[j + 1] === LF)) j += 2;
    else return false;
    breaks++;
  }
  return true;
}

/** `to` with the match's line breaks put back at the same offsets (at its end when it is shorter). */
export function withBreaks(to: Buffer, breaks: WrappedMatch['breaks']): Buffer {
  if (breaks.length === 0) return to;
  const parts: Buffer[] = [];
  let copied = 0;
  for (const { at, bytes } of breaks) {
    const cut = Math.min(Math.max(at, copied), to.length);
    parts.push(to.subarray(copied, cut), bytes);
    copied = cut;
  }
  parts.push(to.subarray(copied));
  return Buffer.concat(parts);
}
