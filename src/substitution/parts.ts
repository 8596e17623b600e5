/** Building blocks of request-head rewriting (see head.ts): the report and the per-site rewriters. */
import type { ResolvedSecret } from '../resolver/types.js';
import { secretAllowed } from './compile.js';
import { secretHeaderForm, secretUrlForm, type UrlPart } from './encode.js';
import { replaceInUrl, replaceLiteral } from './scan.js';
import type { SubstitutionLocation } from './types.js';

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
