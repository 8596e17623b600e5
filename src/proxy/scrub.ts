/**
 * Response scrubbing: after a value went upstream, the response (head and body) gets the value
 * replaced back by its placeholder, so an upstream that echoes the request cannot hand the value
 * to the sandbox. Forms replaced, for every substituted secret:
 *   - literal (UTF-8 bytes), JSON-escaped, percent-encoded (upper and lower hex, `+` or `%20` for
 *     space, `encodeURIComponent` style and the proxy's own URL forms);
 *   - base64 and base64url: a value inside a base64 text starts at one of three alignments; for
 *     each, the run of base64 chars fully determined by the value's bytes is replaced by the run
 *     for the placeholder at the same alignment. The decoded text then shows the placeholder (at
 *     most two bytes of the value's first and last group stay, mixed with their neighbours).
 * Forms shorter than 8 bytes are not scrubbed (they would match ordinary text); placeholders are
 * 37 chars, so an echoed request never loses its placeholder to this.
 */
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { ResolvedSecret } from '../resolver/types.js';
import { secretUrlForm } from '../substitution/encode.js';
import { needleMatcher, replaceAll, ReplaceStream, type Matcher, type ReplacePair } from '../substitution/stream-replace.js';

const MIN_FORM_LENGTH = 8;

function percentForms(value: string): string[] {
  const component = encodeURIComponent(value);
  const all = [component, component.replace(/%20/g, '+')];
  // Every byte outside unreserved encoded, and everything but / and : kept raw.
  const strict = component.replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  all.push(strict, encodeURI(value));
  for (const form of [...all]) all.push(form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  return all;
}

/** Base64 runs fully determined by `bytes` when it starts at alignment `shift` (0, 1, 2) of a base64 text. */
function base64Cores(bytes: Buffer, url: boolean): { shift: number; core: string }[] {
  const cores: { shift: number; core: string }[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const skip = (3 - shift) % 3;
    const groups = Math.floor((bytes.length - skip) / 3);
    if (groups <= 0) continue;
    const core = bytes.subarray(skip, skip + groups * 3).toString(url ? 'base64url' : 'base64');
    cores.push({ shift, core });
  }
  return cores;
}

function base64Pairs(value: Buffer, placeholder: Buffer): ReplacePair[] {
  const pairs: ReplacePair[] = [];
  for (const url of [false, true]) {
    const fromCores = base64Cores(value, url);
    const toCores = base64Cores(placeholder, url);
    for (const from of fromCores) {
      const to = toCores.find((candidate) => candidate.shift === from.shift);
      if (to) pairs.push({ from: Buffer.from(from.core, 'latin1'), to: Buffer.from(to.core, 'latin1') });
    }
  }
  return pairs;
}

/** The (form of value -> same form of placeholder) pairs for the given secrets. */
export function scrubPairs(secrets: readonly ResolvedSecret[]): ReplacePair[] {
  const pairs: ReplacePair[] = [];
  const seen = new Set<string>();
  const add = (from: Buffer, to: Buffer) => {
    if (from.length < MIN_FORM_LENGTH || from.equals(to)) return;
    const key = from.toString('latin1');
    if (seen.has(key)) return;
    seen.add(key);
    pairs.push({ from, to });
  };
  for (const secret of secrets) {
    const placeholder = Buffer.from(secret.placeholder, 'latin1');
    const literal = Buffer.from(secret.value, 'utf8');
    add(literal, placeholder);
    add(Buffer.from(JSON.stringify(secret.value).slice(1, -1), 'utf8'), placeholder);
    // JSON with non-ASCII escaped as \uXXXX (some serializers do that).
    add(Buffer.from(JSON.stringify(secret.value).slice(1, -1).replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`), 'latin1'), placeholder);
    for (const form of percentForms(secret.value)) add(Buffer.from(form, 'latin1'), placeholder);
    // The forms the proxy itself writes into a request target (encode.ts).
    for (const part of ['path', 'query'] as const) {
      const form = secretUrlForm(secret, part);
      if (form !== null) add(Buffer.from(form, 'latin1'), placeholder);
    }
    for (const pair of base64Pairs(literal, placeholder)) add(pair.from, pair.to);
  }
  return pairs;
}

export function scrubMatcher(secrets: readonly ResolvedSecret[]): Matcher | null {
  const pairs = scrubPairs(secrets);
  return pairs.length === 0 ? null : needleMatcher(pairs);
}

/** Scrubs a latin1 string (a response head, or a header value). */
export function scrubHead(text: string, secrets: readonly ResolvedSecret[]): string {
  if (secrets.length === 0) return text;
  const matcher = scrubMatcher(secrets);
  if (!matcher) return text;
  return replaceAll(Buffer.from(text, 'latin1'), matcher).toString('latin1');
}

/** Scrubs a raw header list (latin1 strings) in place of a copy. */
export function scrubHeaders(rawHeaders: readonly string[], matcher: Matcher): string[] {
  return rawHeaders.map((item, index) => (index % 2 === 1 ? replaceAll(Buffer.from(item, 'latin1'), matcher).toString('latin1') : item));
}

export function createScrubStream(matcher: Matcher): Transform {
  return new ReplaceStream(matcher);
}

/** Decoder for a response Content-Encoding we can undo (single coding), else null. */
export function responseDecoder(contentEncoding: string | undefined): Transform | null {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding === 'gzip' || coding === 'x-gzip') return zlib.createGunzip();
  if (coding === 'deflate') return zlib.createUnzip();
  if (coding === 'br') return zlib.createBrotliDecompress();
  return null;
}
