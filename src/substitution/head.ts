/**
 * Request-head substitution (issue 3): header values and the request target.
 *
 * - Every header value is scanned (Authorization, Cookie, custom headers...), except `Host`
 *   (the proxy checks it against the destination; a value there would re-route the request).
 *   Header names, order and casing are kept; only values change.
 * - The target (path + query) is scanned for literal and percent-encoded placeholders.
 * - A placeholder of a secret this sandbox does not mount is left as it is and not reported.
 * - A mounted secret's placeholder is swapped only when the location ('header' / 'url') is enabled
 *   for the secret AND its hosts allow the destination (or it has no hosts and allowUnrestricted);
 *   otherwise it stays and is reported in `disallowed`.
 * - An allowed secret whose value cannot be written there (see encode.ts) stays and is reported
 *   in `unsafe`; the proxy must refuse the request (400).
 * - `Authorization: Basic …` credentials are decoded, substituted and re-encoded (basic.ts).
 * See encode.ts for how values are encoded into headers and URLs.
 */
import { rewriteBasicAuthorization } from './basic.js';
import { rewriteHeaderText, rewriteTarget, SubstitutionReport, type HeadContext } from './parts.js';
import type { HeadRewriteInput, HeadRewriteResult } from './types.js';


export function rewriteRequestHead(input: HeadRewriteInput): HeadRewriteResult {
  const report = new SubstitutionReport();
  const ctx: HeadContext = {
    byPlaceholder: input.compiled.byPlaceholder,
    host: input.host,
    allowUnrestricted: input.allowUnrestricted,
    report,
  };
  const rawHeaders = input.rawHeaders.slice();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.length === 4 && name.toLowerCase() === 'host') continue;
    let rewritten = rewriteHeaderText(value, ctx);
    if (name.length === 13 && name.toLowerCase() === 'authorization') rewritten = rewriteBasicAuthorization(rewritten, ctx);
    rawHeaders[i + 1] = rewritten;
  }
  const target = rewriteTarget(input.target, ctx);
  return { target, rawHeaders, substituted: report.substituted, disallowed: report.disallowed, unsafe: report.unsafe };
}
