/**
 * The proxy's side of response scrubbing (the needles themselves: src/substitution/scrub.ts).
 * Used only when a value may have gone upstream: the head's substituted secrets plus, for a body
 * that was rewritten, its candidates (streamed bodies) or its substituted secrets (buffered ones).
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { buildScrubNeedles, type ScrubNeedles } from '../substitution/scrub.js';

export type { ScrubNeedles } from '../substitution/scrub.js';
export { planResponseScrub } from '../substitution/response.js';
export { scrubHeaders, scrubStatusMessage } from '../substitution/scrub.js';

/**
 * Needles of recent secret lists, keyed by their first secret (a mapping's secrets are new objects
 * after every refresh, so entries go with them). A list matches only with the same secrets in the
 * same order: the needles (and their precedence) are exactly what buildScrubNeedles would build.
 */
const needlesCache = new WeakMap<ResolvedSecret, { secrets: readonly ResolvedSecret[]; needles: ScrubNeedles }[]>();
const MAX_LISTS_PER_SECRET = 8;

function sameSecrets(a: readonly ResolvedSecret[], b: readonly ResolvedSecret[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function scrubNeedles(secrets: readonly ResolvedSecret[]): ScrubNeedles | null {
  if (secrets.length === 0) return null;
  const first = secrets[0]!;
  let lists = needlesCache.get(first);
  let needles = lists?.find((entry) => sameSecrets(entry.secrets, secrets))?.needles;
  if (!needles) {
    needles = buildScrubNeedles(secrets);
    if (!lists) needlesCache.set(first, (lists = []));
    if (lists.length >= MAX_LISTS_PER_SECRET) lists.shift();
    lists.push({ secrets: secrets.slice(), needles });
  }
  return needles.pairs.length === 0 ? null : needles;
}
