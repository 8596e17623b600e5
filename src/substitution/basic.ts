/**
 * `Authorization: Basic base64(user:pass)` (issue 4): the base64 hides placeholders from a plain
 * scan, so the credentials are decoded, placeholders in user and password are substituted with
 * the 'header' location rules, and the result is re-encoded.
 *
 * - The decoded bytes are handled as a latin1 string (one char per byte), so bytes that are not
 *   placeholders come back exactly; a value goes in as its UTF-8 bytes.
 * - The user/password split is the first ':' of the original credentials (placeholders contain
 *   none). A value containing ':' is unsafe in the user part (it would move the split); any value
 *   with a control char (RFC 7617 forbids them) is unsafe in both. Unsafe -> reported, left out.
 * - Nothing changed -> the header comes back exactly as it was (padding and all). Changed ->
 *   same scheme spelling and whitespace, standard padded base64.
 * - Anything that does not look like Basic credentials is returned untouched.
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { secretHeaderForm } from './encode.js';
import { rewriteHeaderText, type HeadContext } from './parts.js';
import { PLACEHOLDER_PREFIX } from '../crypto/tokens.js';

const BASIC = /^([Bb][Aa][Ss][Ii][Cc])([ \t]+)([A-Za-z0-9+/_-]+=*)([ \t]*)$/;

export function userPartForm(secret: ResolvedSecret): string | null {
  const form = secretHeaderForm(secret);
  return form === null || form.includes(':') ? null : form;
}

/** Rewrites the value of an Authorization header when it carries Basic credentials. */
export function rewriteBasicAuthorization(headerValue: string, ctx: HeadContext): string {
  const match = BASIC.exec(headerValue);
  if (!match) return headerValue;
  const [, scheme, space, token, trailing] = match as unknown as [string, string, string, string, string];
  const decoded = Buffer.from(token, 'base64').toString('latin1');
  if (!decoded.includes(PLACEHOLDER_PREFIX)) return headerValue;
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const rest = colon === -1 ? '' : decoded.slice(colon);
  const newUser = rewriteHeaderText(user, ctx, userPartForm);
  const newRest = rewriteHeaderText(rest, ctx);
  if (newUser === user && newRest === rest) return headerValue;
  return `${scheme}${space}${Buffer.from(newUser + newRest, 'latin1').toString('base64')}${trailing}`;
}
