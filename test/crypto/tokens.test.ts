import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  generateApiKey,
  generatePlaceholder,
  generateProxyToken,
  parseApiKey,
  PLACEHOLDER_PATTERN,
  randomAlphanumeric,
  sha256Hex,
} from '../../src/crypto/tokens.js';

describe('placeholders', () => {
  it('are veil_ + 32 alphanumerics and unique over 10k draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const placeholder = generatePlaceholder();
      expect(placeholder).toMatch(PLACEHOLDER_PATTERN);
      expect(placeholder).toHaveLength(37);
      seen.add(placeholder);
    }
    expect(seen.size).toBe(10_000);
  });

  it('use the whole alphabet roughly uniformly (rejection sampling, no modulo bias)', () => {
    const counts = new Map<string, number>();
    const sample = randomAlphanumeric(62 * 2000);
    for (const char of sample) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // Expected 2000 each (sigma ~44), so ±200 is a 4.5-sigma band. Plain `byte % 62` without
    // rejection would give 8 characters probability 5/256 instead of 4/256: ~2420 each, caught here.
    for (const [char, count] of counts) {
      expect(count, char).toBeGreaterThan(1800);
      expect(count, char).toBeLessThan(2200);
    }
  });
});

describe('API keys', () => {
  it('embed the record id and parse back', () => {
    const id = '0b7c5a3e-1f2d-4c6b-9a8e-7d6c5b4a3f2e';
    const key = generateApiKey(id);
    expect(key).toMatch(/^veil_key_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(key)).toEqual({ keyId: id });
    expect(generateApiKey(id)).not.toBe(key);
  });

  it('reject malformed keys', () => {
    for (const bad of ['', 'veil_key_', 'veil_key_xyz_abc', `veil_key_${'a'.repeat(32)}_${'b'.repeat(42)}`, `Bearer veil_key_${'a'.repeat(32)}_${'b'.repeat(43)}`]) {
      expect(parseApiKey(bad)).toBeNull();
    }
    expect(() => generateApiKey('not-a-uuid')).toThrow();
  });
});

describe('hashing and comparison', () => {
  it('sha256Hex and constantTimeEqual', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });

  it('proxy tokens are 32 random bytes base64url', () => {
    const token = generateProxyToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateProxyToken()).not.toBe(token);
  });
});
