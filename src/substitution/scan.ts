/**
 * Finding placeholders in strings. A candidate is `veil_` followed by 32 chars of [A-Za-z0-9];
 * it is a placeholder of this sandbox only if `byPlaceholder` knows it. Unknown candidates are
 * skipped by one char (a real placeholder may start inside an unknown candidate's tail, e.g.
 * `veil_AAAA…veil` + `_…`), known ones are consumed whole (leftmost wins). Matching ignores what is
 * around a placeholder: `${KEY}suffix` is still substituted.
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { isAlnumCode, PLACEHOLDER_BODY_LENGTH, PLACEHOLDER_LENGTH, PLACEHOLDER_PREFIX } from './compile.js';

/** Decides what replaces a found placeholder: a string, or null to leave it as it is. */
export type Visit = (secret: ResolvedSecret, start: number) => string | null;

/** Replaces literal placeholders in `text`. Returns `text` itself when nothing changed. */
export function replaceLiteral(text: string, byPlaceholder: ReadonlyMap<string, ResolvedSecret>, visit: Visit): string {
  let index = text.indexOf(PLACEHOLDER_PREFIX);
  if (index === -1) return text;
  let out = '';
  let copied = 0;
  while (index !== -1 && index + PLACEHOLDER_LENGTH <= text.length) {
    let ok = true;
    for (let k = index + PLACEHOLDER_PREFIX.length; k < index + PLACEHOLDER_LENGTH; k++) {
      if (!isAlnumCode(text.charCodeAt(k))) {
        ok = false;
        break;
      }
    }
    const secret = ok ? byPlaceholder.get(text.slice(index, index + PLACEHOLDER_LENGTH)) : undefined;
    if (secret === undefined) {
      index = text.indexOf(PLACEHOLDER_PREFIX, index + 1);
      continue;
    }
    const replacement = visit(secret, index);
    if (replacement !== null) {
      out += text.slice(copied, index) + replacement;
      copied = index + PLACEHOLDER_LENGTH;
    }
    index = text.indexOf(PLACEHOLDER_PREFIX, index + PLACEHOLDER_LENGTH);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

const PREFIX_CODES = [...PLACEHOLDER_PREFIX].map((char) => char.charCodeAt(0));

/**
 * Matches a placeholder at `start` where each char may be literal or percent-encoded (`%5F`,
 * `%76`, either hex case). Only chars of the placeholder alphabet are ever decoded, all of them
 * unreserved, so decoding cannot change what the URL means. Returns [placeholder, end] or null.
 */
function matchEncodedAt(text: string, start: number): [string, number] | null {
  let position = start;
  let decoded = '';
  for (let k = 0; k < PLACEHOLDER_LENGTH; k++) {
    if (position >= text.length) return null;
    let code = text.charCodeAt(position);
    if (code === 37 /* % */) {
      const high = hexValue(text.charCodeAt(position + 1));
      const low = hexValue(text.charCodeAt(position + 2));
      if (high < 0 || low < 0) return null;
      code = high * 16 + low;
      position += 3;
    } else {
      position += 1;
    }
    if (k < PREFIX_CODES.length ? code !== PREFIX_CODES[k] : !isAlnumCode(code)) return null;
    decoded += String.fromCharCode(code);
  }
  return decoded.length === PLACEHOLDER_PREFIX.length + PLACEHOLDER_BODY_LENGTH ? [decoded, position] : null;
}

/**
 * Replaces placeholders in a URL (or any percent-encoded text), literal or with any of their
 * chars percent-encoded. `visit` gets the index where the (possibly encoded) placeholder starts.
 */
export function replaceInUrl(text: string, byPlaceholder: ReadonlyMap<string, ResolvedSecret>, visit: Visit): string {
  if (!text.includes('%')) return replaceLiteral(text, byPlaceholder, visit);
  let out = '';
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code !== 118 /* v */ && code !== 37 /* % */) {
      index++;
      continue;
    }
    const match = matchEncodedAt(text, index);
    const secret = match ? byPlaceholder.get(match[0]) : undefined;
    if (!match || secret === undefined) {
      index++;
      continue;
    }
    const replacement = visit(secret, index);
    if (replacement !== null) {
      out += text.slice(copied, index) + replacement;
      copied = match[1];
    }
    index = match[1];
  }
  return copied === 0 ? text : out + text.slice(copied);
}
