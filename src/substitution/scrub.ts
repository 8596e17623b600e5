/**
 * Response scrubbing (issue 4): when a request carried a secret's value, the response (headers
 * and body, streamed) gets that value replaced back by its placeholder, so that an allowed host
 * that echoes the request cannot hand the real value to the sandbox.
 *
 * Needles per secret (each only when it differs from the ones before; all replaced by the
 * placeholder unless said otherwise):
 *   - literal: the value's UTF-8 bytes (also what a header carried: see encode.ts).
 *   - JSON-escaped: JSON.stringify(value) without quotes, plus the variants other serializers
 *     write: non-ASCII as \uXXXX (Python, PHP), `<>&` as \u003c… (Go), `/` as `\/` (PHP).
 *   - percent-encoded: encodeURIComponent (and its lowercase-hex spelling), the path and query
 *     forms Veil itself writes (encode.ts), and the form-urlencoded form (space as `+`).
 *   - reflection forms (reflection-forms.ts), each replaced by the placeholder written the same
 *     way: hex, every byte as %XX and as %25XX (and the percent forms above double-encoded),
 *     JSON \uXXXX for every char, HTML entities (decimal, hex, and the named escapes).
 *   - base64 and base64url of the literal, JSON and percent forms, at each of the 3 byte
 *     alignments it can have inside a longer encoded run (e.g. `Basic base64(user:VALUE)`, a JWT
 *     carrying the JSON-escaped value, an echoed body). Standard-alphabet needles also match with
 *     MIME line breaks (CRLF or LF, wrapped at 76 columns) anywhere inside them (wrapped-needle.ts).
 *
 * Base64, the choice made: at alignment a (a bytes of the value's first 3-byte group belong to
 * what precedes it), the chars whose 6 bits come only from the value are the same whatever the
 * neighbours are: chars ceil(8a/6) .. floor(8(a+n)/6) - 1 of base64(a zero bytes + value). That
 * stable core is the needle, and it is replaced by the stable core of the placeholder at the same
 * alignment. A second needle per alignment covers the value at the very end of an encoded run:
 * the core plus the final partial char and its `=` padding (replaced by the placeholder's
 * equivalent). What is left of the value is at most the 1 char on each side that mixes value bits
 * with neighbour bits: at most 4 bits of its first byte and 4 bits of its last byte, never the
 * value. The decoded result is not the exact original-with-placeholder (lengths differ and the
 * mixed chars stay), but the real value can no longer be recovered. Cores shorter than
 * MIN_BASE64_CORE chars (values under ~7 bytes) get no base64 needles: they would match random
 * base64 data (images, hashes) too often.
 *
 * Lengths change: the proxy must not forward the upstream Content-Length of a scrubbed body (send
 * it chunked, or buffer it).
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { hasLoneSurrogate, percentEncode } from './encode.js';
import { doublePercent, reflectionForms } from './reflection-forms.js';
import { createReplaceStream, needleMatcher, replaceAll, type Matcher, type ReplacePair, type ReplaceStream } from './stream-replace.js';

export const MIN_BASE64_CORE = 8;

export interface ScrubNeedles {
  readonly pairs: readonly ReplacePair[];
  readonly matcher: Matcher;
}

function jsonForms(value: string): string[] {
  const base = JSON.stringify(value).slice(1, -1);
  const asciiOnly = (text: string) => text.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const goStyle = (text: string) => text.replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const slashes = (text: string) => text.replace(/\//g, '\\/');
  return [base, asciiOnly(base), goStyle(base), slashes(base), slashes(asciiOnly(base))];
}

function percentForms(value: string): string[] {
  const forms: string[] = [];
  if (!hasLoneSurrogate(value)) {
    const component = encodeURIComponent(value);
    forms.push(component, component.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
  }
  forms.push(percentEncode(value, 'path'), percentEncode(value, 'query'));
  forms.push(new URLSearchParams([['k', value]]).toString().slice(2));
  return forms;
}

/** Char range [start, end) of base64(a zero bytes + bytes) whose bits all come from `bytes`. */
function stableRange(alignment: number, length: number): [number, number] {
  return [Math.ceil((8 * alignment) / 6), Math.floor((8 * (alignment + length)) / 6)];
}

function encodeAligned(bytes: Buffer, alignment: number, url: boolean): string {
  const text = Buffer.concat([Buffer.alloc(alignment), bytes]).toString('base64');
  return url ? text.replace(/\+/g, '-').replace(/\//g, '_') : text;
}

/**
 * MIME base64 (RFC 2045) breaks lines every 76 chars with CRLF (LF in many tools). Where a break
 * falls inside the value's encoding depends on everything before it, so a standard-alphabet needle
 * may have a line break between any two of its chars: up to one per 76 chars it spans.
 */
const MIME_LINE = 76;
const mimeBreaks = (needleLength: number) => Math.ceil((needleLength - 1) / MIME_LINE);

/** Needle/replacement pairs of base64 forms of `value`, replaced by those of `placeholder`. */
function base64Pairs(value: Buffer, placeholder: Buffer): ReplacePair[] {
  const pairs: ReplacePair[] = [];
  const pair = (needle: string, replacement: string, url: boolean): ReplacePair => {
    const from = Buffer.from(needle, 'latin1');
    const to = Buffer.from(replacement, 'latin1');
    return url ? { from, to } : { from, to, lineBreaks: mimeBreaks(needle.length) };
  };
  for (const url of [false, true]) {
    for (let alignment = 0; alignment < 3; alignment++) {
      const [start, end] = stableRange(alignment, value.length);
      if (end - start < MIN_BASE64_CORE) continue;
      const [pStart, pEnd] = stableRange(alignment, placeholder.length);
      const encoded = encodeAligned(value, alignment, url);
      const encodedPlaceholder = encodeAligned(placeholder, alignment, url);
      pairs.push(pair(encoded.slice(start, end), encodedPlaceholder.slice(pStart, pEnd), url));
      // At the end of an encoded run: core + final partial char + padding (and unpadded for base64url).
      const tail = encoded.slice(start);
      if (tail.length > end - start) {
        pairs.push(pair(tail, encodedPlaceholder.slice(pStart), url));
        if (url) pairs.push(pair(tail.replace(/=+$/, ''), encodedPlaceholder.slice(pStart).replace(/=+$/, ''), url));
      }
    }
  }
  return pairs;
}

/** Does a source of `length` bytes get a needle at every alignment (each stable core long enough)? */
function coveredAtEveryAlignment(length: number): boolean {
  return [0, 1, 2].every((alignment) => {
    const [start, end] = stableRange(alignment, length);
    return end - start >= MIN_BASE64_CORE;
  });
}

/**
 * Drop the sources that contain another source already caught at every alignment (the JSON form
 * of a value starting with `\` is `\` + the value). Their needles add nothing, and they can do
 * harm: the longer needle's first char carries 4 bits of its first byte, which in the data may be
 * a neighbour's bits that happen to agree, and replacing it would damage that neighbour.
 */
function withoutRedundantSources(sources: string[]): string[] {
  const covering = sources.filter((text) => coveredAtEveryAlignment(Buffer.byteLength(text, 'utf8')));
  return sources.filter((text) => !covering.some((inner) => inner !== text && text.includes(inner)));
}

const pairsCache = new WeakMap<ResolvedSecret, ReplacePair[]>();

/** The scrub needles of one secret, as [needle, replacement] byte pairs (cached per secret object). */
export function secretScrubPairs(secret: ResolvedSecret): ReplacePair[] {
  let pairs = pairsCache.get(secret);
  if (!pairs) {
    pairs = computeScrubPairs(secret);
    pairsCache.set(secret, pairs);
  }
  return pairs;
}

function computeScrubPairs(secret: ResolvedSecret): ReplacePair[] {
  const placeholder = Buffer.from(secret.placeholder, 'latin1');
  const value = Buffer.from(secret.value, 'utf8');
  if (value.length === 0) return [];
  const texts = new Map<string, string>();
  const add = (needle: string, replacement: string) => {
    if (needle.length > 0 && !texts.has(needle)) texts.set(needle, replacement);
  };
  add(secret.value, secret.placeholder);
  for (const form of jsonForms(secret.value)) add(form, secret.placeholder);
  const percent = percentForms(secret.value);
  for (const form of percent) add(form, secret.placeholder);
  // base64 covers these forms (a JWT or an encoded echo carries the JSON-escaped form), not the
  // reflection forms below: base64 of a hex dump is not something an echo does by accident.
  const base64Sources = withoutRedundantSources([...texts.keys()]);
  for (const form of percent) add(doublePercent(form), secret.placeholder);
  for (const [needle, replacement] of reflectionForms(secret.value, secret.placeholder)) add(needle, replacement);
  const pairs: ReplacePair[] = [{ from: value, to: placeholder }];
  for (const [needle, replacement] of texts) {
    if (needle === secret.value) continue;
    // JSON/percent forms are ASCII except JSON's literal non-ASCII chars: UTF-8 like the value.
    pairs.push({ from: Buffer.from(needle, 'utf8'), to: Buffer.from(replacement, 'latin1') });
  }
  const seen = new Set<string>();
  for (const text of base64Sources) {
    for (const pair of base64Pairs(Buffer.from(text, 'utf8'), placeholder)) {
      const key = pair.from.toString('latin1');
      if (seen.has(key)) continue;
      seen.add(key);
      pairs.push(pair);
    }
  }
  return pairs;
}

/** Needles for every secret whose value went into the request (HeadRewriteResult.substituted + body). */
export function buildScrubNeedles(secrets: readonly ResolvedSecret[]): ScrubNeedles {
  const seen = new Set<string>();
  const pairs: ReplacePair[] = [];
  for (const secret of new Set(secrets)) {
    for (const pair of secretScrubPairs(secret)) {
      const key = pair.from.toString('latin1');
      if (seen.has(key)) continue;
      seen.add(key);
      pairs.push(pair);
    }
  }
  return { pairs, matcher: needleMatcher(pairs) };
}

/** A Transform scrubbing a response body (decoded: identity encoding). */
export function createScrubStream(needles: ScrubNeedles): ReplaceStream {
  return createReplaceStream(needles.matcher);
}

/** Scrubs a whole buffer. Returns `body` itself when nothing matched. */
export function scrubBuffer(body: Buffer, needles: ScrubNeedles): Buffer {
  return replaceAll(body, needles.matcher);
}

/** Scrubs one string of a response head; `text` itself when it cannot or does not contain a needle. */
function scrubHeadText(text: string, needles: ScrubNeedles, encoding: 'latin1' | 'utf8'): string {
  // A string of fewer bytes than every needle cannot contain one (latin1: one char per byte).
  const length = encoding === 'latin1' ? text.length : Buffer.byteLength(text, 'utf8');
  if (length < (needles.matcher.minLength ?? 0)) return text;
  const bytes = Buffer.from(text, encoding);
  const scrubbed = replaceAll(bytes, needles.matcher);
  return scrubbed === bytes ? text : scrubbed.toString(encoding);
}

/**
 * Scrubs response header names and values (Node/undici rawHeaders as latin1 strings: one char per
 * byte). Names too: an upstream may name a header after what it received (httpbin's
 * `/response-headers?<value>=1`). Returns a new array.
 */
export function scrubHeaders(rawHeaders: readonly string[], needles: ScrubNeedles): string[] {
  const out = rawHeaders.slice();
  if (needles.pairs.length === 0) return out;
  for (let i = 0; i < out.length; i++) out[i] = scrubHeadText(out[i]!, needles, 'latin1');
  return out;
}

/**
 * Scrubs a response's reason phrase (`HTTP/1.1 200 OK <value>` reaches the client otherwise).
 * `encoding` is how the parser decoded it: undici as UTF-8, node:http as latin1.
 */
export function scrubStatusMessage(statusMessage: string, needles: ScrubNeedles, encoding: 'latin1' | 'utf8'): string {
  return needles.pairs.length === 0 ? statusMessage : scrubHeadText(statusMessage, needles, encoding);
}
