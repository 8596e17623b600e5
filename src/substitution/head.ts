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
 * See encode.ts for how values are encoded into headers and URLs.
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { secretAllowed } from './compile.js';
import { secretHeaderForm, secretUrlForm, type UrlPart } from './encode.js';
import { replaceInUrl, replaceLiteral } from './scan.js';
import type { HeadRewriteInput, HeadRewriteResult, SubstitutionLocation } from './types.js';

/** Collects the report of one rewrite: each secret / (name, where) pair once, in first-seen order. */
export class SubstitutionReport {
  readonly substituted: ResolvedSecret[] = [];
  readonly disallowed: { name: string; where: SubstitutionLocation }[] = [];
  readonly unsafe: { name: string; where: SubstitutionLocation }[] = [];
  private readonly seen = new Set<string>();
  private readonly seenSecrets = new Set<ResolvedSecret>();

  addSubstituted(secret: ResolvedSecret): void {
    if (this.seenSecrets.has(secret)) return;
    this.seenSecrets.add(secret);
    this.substituted.push(secret);
  }

  addDisallowed(name: string, where: SubstitutionLocation): void {
    const key = `d\u0000${where}\u0000${name}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.disallowed.push({ name, where });
  }

  addUnsafe(name: string, where: SubstitutionLocation): void {
    const key = `u\u0000${where}\u0000${name}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.unsafe.push({ name, where });
  }
}

export interface HeadContext {
  byPlaceholder: ReadonlyMap<string, ResolvedSecret>;
  host: string;
  allowUnrestricted: boolean;
  report: SubstitutionReport;
}

/**
 * Replaces placeholders in one header value (literal only; header values are not percent-decoded).
 * `form` maps an allowed secret to the text to insert, or null when its value is unsafe there.
 */
export function rewriteHeaderText(text: string, ctx: HeadContext, form: (secret: ResolvedSecret) => string | null = secretHeaderForm): string {
  return replaceLiteral(text, ctx.byPlaceholder, (secret) => {
    if (!secretAllowed(secret, ctx.host, 'header', ctx.allowUnrestricted)) {
      ctx.report.addDisallowed(secret.name, 'header');
      return null;
    }
    const replacement = form(secret);
    if (replacement === null) {
      ctx.report.addUnsafe(secret.name, 'header');
      return null;
    }
    ctx.report.addSubstituted(secret);
    return replacement;
  });
}

/** Replaces placeholders (literal or percent-encoded) in an origin-form target. */
export function rewriteTarget(target: string, ctx: HeadContext): string {
  const queryStart = firstIndexOf(target, '?', '#');
  return replaceInUrl(target, ctx.byPlaceholder, (secret, start) => {
    if (!secretAllowed(secret, ctx.host, 'url', ctx.allowUnrestricted)) {
      ctx.report.addDisallowed(secret.name, 'url');
      return null;
    }
    const part: UrlPart = queryStart !== -1 && start > queryStart ? 'query' : 'path';
    const replacement = secretUrlForm(secret, part);
    if (replacement === null) {
      ctx.report.addUnsafe(secret.name, 'url');
      return null;
    }
    ctx.report.addSubstituted(secret);
    return replacement;
  });
}

function firstIndexOf(text: string, a: string, b: string): number {
  const i = text.indexOf(a);
  const j = text.indexOf(b);
  if (i === -1) return j;
  if (j === -1) return i;
  return Math.min(i, j);
}

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
    rawHeaders[i + 1] = rewriteHeaderText(value, ctx);
  }
  const target = rewriteTarget(input.target, ctx);
  return { target, rawHeaders, substituted: report.substituted, disallowed: report.disallowed, unsafe: report.unsafe };
}
