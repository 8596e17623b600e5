/**
 * Stored host patterns that today's rules refuse (e.g. `*.com`, accepted before public-suffix
 * wildcards were refused). The proxy already skips such a pattern when it compiles a secret
 * (src/substitution/compile.ts re-normalizes every entry); this finds them so startup can say so.
 */
import { normalizeHostPattern } from '../hosts/hosts.js';
import type { Repository } from '../store/types.js';

export interface RefusedHostPattern {
  orgName: string;
  secretName: string;
  pattern: string;
  reason: string;
}

export async function findRefusedHostPatterns(repo: Repository): Promise<RefusedHostPattern[]> {
  const refused: RefusedHostPattern[] = [];
  for (const org of await repo.listOrgs()) {
    for (const secret of await repo.listSecrets(org.id)) {
      for (const pattern of secret.hosts) {
        const result = normalizeHostPattern(pattern);
        if (!result.ok) refused.push({ orgName: org.name, secretName: secret.name, pattern, reason: result.reason });
      }
    }
  }
  return refused;
}
