/**
 * How a secret value is written into a request head. Pure helpers, cached per secret.
 *
 * Headers: Node and undici carry header strings as latin1 ("binary") strings, one char per byte.
 * A value is inserted as its UTF-8 bytes in that form, so ASCII values arrive byte-identical and
 * non-ASCII values arrive as UTF-8. A value with a char that cannot be in a header value
 * (CR, LF, NUL, any other control char except TAB, DEL, or a lone surrogate) is never inserted.
 *
 * URL (request target, origin-form): the sandbox only ever saw the placeholder, which is URL-safe,
 * so its client encoded nothing; the proxy therefore encodes the value the way a client holding
 * the real value would have, so that the server's percent-decoding yields the exact value and the
 * value can never change the URL's structure. UTF-8 bytes outside the "raw" set below become %XX
 * (uppercase hex). The raw sets keep common API keys (unreserved chars, and base64's `+`, `/`, `=`
 * where harmless) byte-identical:
 *   - path:  unreserved `A-Z a-z 0-9 - . _ ~` plus `: @ ! $ ' ( ) * + , =`.
 *            Encoded: `/` (segment boundary), `?`, `#`, `;` (path parameters on some servers),
 *            `%`, `&`, space, other delimiters and every non-ASCII byte.
 *   - query: unreserved plus `: @ ! $ ' ( ) * , / ?`.
 *            Encoded: `&`, `=`, `+` (a form decoder reads it as space), `;`, `#`, `%`, space,
 *            other delimiters and every non-ASCII byte.
 * A value containing CR, LF or NUL (or a lone surrogate) is never inserted into a URL either,
 * even though it could be percent-encoded: the request is refused instead (issue 3). Neither is a
 * value of exactly "." or ".." in the path: as a whole segment it would be a dot segment (also
 * when written %2E), so it could not arrive as itself.
 */
import type { ResolvedSecret } from '../resolver/types.js';

const HEADER_UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const URL_UNSAFE = /[\r\n\u0000]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** The header form of a value (UTF-8 bytes as a latin1 string), or null when it is unsafe. */
export function headerValueForm(value: string): string | null {
  if (HEADER_UNSAFE.test(value) || hasLoneSurrogate(value)) return null;
  // Fast path: pure ASCII needs no conversion.
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(value)) return value;
  return Buffer.from(value, 'utf8').toString('latin1');
}

export type UrlPart = 'path' | 'query';

function rawTable(extra: string): Uint8Array {
  const table = new Uint8Array(128);
  const raw = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~' + extra;
  for (const char of raw) table[char.charCodeAt(0)] = 1;
  return table;
}
const PATH_RAW = rawTable(":@!$'()*+,=");
const QUERY_RAW = rawTable(":@!$'()*,/?");
const HEX = '0123456789ABCDEF';

/** Percent-encodes a value's UTF-8 bytes, keeping the raw set of `part` (no safety checks). */
export function percentEncode(value: string, part: UrlPart): string {
  const table = part === 'path' ? PATH_RAW : QUERY_RAW;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte < 128 && table[byte] === 1) out += String.fromCharCode(byte);
    else out += '%' + HEX[byte >> 4]! + HEX[byte & 15]!;
  }
  return out;
}

/** The URL form of a value for a position in the target, or null when it is unsafe. */
export function urlValueForm(value: string, part: UrlPart): string | null {
  if (URL_UNSAFE.test(value) || hasLoneSurrogate(value)) return null;
  // "." and ".." are dot segments, removed by URL normalization even when percent-encoded.
  if (part === 'path' && (value === '.' || value === '..')) return null;
  return percentEncode(value, part);
}

interface Forms {
  header?: string | null;
  path?: string | null;
  query?: string | null;
}
const formsCache = new WeakMap<ResolvedSecret, Forms>();

function formsOf(secret: ResolvedSecret): Forms {
  let forms = formsCache.get(secret);
  if (!forms) {
    forms = {};
    formsCache.set(secret, forms);
  }
  return forms;
}

export function secretHeaderForm(secret: ResolvedSecret): string | null {
  const forms = formsOf(secret);
  if (forms.header === undefined) forms.header = headerValueForm(secret.value);
  return forms.header;
}

export function secretUrlForm(secret: ResolvedSecret, part: UrlPart): string | null {
  const forms = formsOf(secret);
  const cached = forms[part];
  if (cached !== undefined) return cached;
  const form = urlValueForm(secret.value, part);
  forms[part] = form;
  return form;
}
