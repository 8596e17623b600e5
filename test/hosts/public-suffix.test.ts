/** Wildcards on a public suffix (Public Suffix List, ICANN and private sections) are refused. */
import { describe, expect, it } from 'vitest';
import { isPublicSuffix, normalizeHostList, normalizeHostPattern } from '../../src/hosts/hosts.js';
import { secretAllowed } from '../../src/substitution/compile.js';
import type { ResolvedSecret } from '../../src/resolver/types.js';

describe('wildcards on a public suffix', () => {
  it('refuses ICANN suffixes, multi-label ones and private-section ones, in any spelling', () => {
    for (const pattern of ['*.com', '*.co.uk', '*.github.io', '*.COM.', '*.s3.amazonaws.com', '*.xn--p1ai', '*.рф', '*.foo.ck']) {
      const result = normalizeHostPattern(pattern);
      expect(result.ok, pattern).toBe(false);
      expect(!result.ok && result.reason).toMatch(/public suffix/);
    }
  });

  it('accepts a wildcard on a registrable domain and names the list does not know', () => {
    for (const [pattern, value] of [
      ['*.example.com', '*.example.com'],
      ['*.example.co.uk', '*.example.co.uk'],
      ['*.octocat.github.io', '*.octocat.github.io'],
      ['*.bench.local', '*.bench.local'],
      ['*.corp', '*.corp'],
      ['*.internal', '*.internal'],
    ]) {
      expect(normalizeHostPattern(pattern!), pattern).toEqual({ ok: true, value });
    }
    // Exact names that are suffixes are not wildcards: they match only themselves.
    expect(normalizeHostPattern('github.io')).toEqual({ ok: true, value: 'github.io' });
    expect(isPublicSuffix('example.com')).toBe(false);
    expect(isPublicSuffix('co.uk')).toBe(true);
  });

  it('names the entry in the list error', () => {
    const result = normalizeHostList(['api.example.com', '*.co.uk']);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^entry 1 \("\*\.co\.uk"\) is a wildcard on the public suffix "co\.uk"/) });
  });

  it('a secret stored with such a pattern is not substituted for it (other entries still work)', () => {
    const secret: ResolvedSecret = { secretId: 's1', env: 'E', name: 'OLD', placeholder: `veil_${'a'.repeat(32)}`, value: 'psl-VALUE', hosts: ['*.com', 'api.example.org'], locations: ['header'] };
    expect(secretAllowed(secret, 'evil.com', 'header', true)).toBe(false);
    expect(secretAllowed(secret, 'api.example.org', 'header', true)).toBe(true);
    // Only the refused pattern: never "unrestricted", even when unrestricted secrets are allowed.
    const only: ResolvedSecret = { ...secret, placeholder: `veil_${'b'.repeat(32)}`, hosts: ['*.github.io'] };
    expect(secretAllowed(only, 'anyone.github.io', 'header', true)).toBe(false);
  });
});
