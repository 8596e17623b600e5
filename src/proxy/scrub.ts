/**
 * The proxy's side of response scrubbing (the needles themselves: src/substitution/scrub.ts).
 * Used only when a value may have gone upstream: the head's substituted secrets plus, for a body
 * that was rewritten, its candidates (streamed bodies) or its substituted secrets (buffered ones).
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { buildScrubNeedles, scrubHeaders, type ScrubNeedles } from '../substitution/scrub.js';

export type { ScrubNeedles } from '../substitution/scrub.js';
export { planResponseScrub } from '../substitution/response.js';
export { scrubHeaders } from '../substitution/scrub.js';

export function scrubNeedles(secrets: readonly ResolvedSecret[]): ScrubNeedles | null {
  if (secrets.length === 0) return null;
  const needles = buildScrubNeedles(secrets);
  return needles.pairs.length === 0 ? null : needles;
}

/** Scrubs a latin1 string (the head of an upgrade response). */
export function scrubHead(text: string, secrets: readonly ResolvedSecret[]): string {
  const needles = scrubNeedles(secrets);
  if (!needles) return text;
  // scrubHeaders scrubs every odd entry: one pseudo header carrying the whole text.
  return scrubHeaders(['head', text], needles)[1]!;
}
