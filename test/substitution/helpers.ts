import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { ResolvedSecret } from '../../src/resolver/types.js';
import type { SecretLocation } from '../../src/store/types.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh random placeholder (same shape as src/crypto generates). */
export function randomPlaceholder(): string {
  let out = 'veil_';
  while (out.length < 37) {
    const byte = randomBytes(1)[0]!;
    if (byte < 248) out += ALNUM[byte % 62];
  }
  return out;
}

let counter = 0;
export function secret(overrides: Partial<ResolvedSecret> & { value: string }): ResolvedSecret {
  counter++;
  return {
    secretId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    name: overrides.name ?? `SECRET_${counter}`,
    env: overrides.env ?? `ENV_${counter}`,
    placeholder: overrides.placeholder ?? randomPlaceholder(),
    value: overrides.value,
    hosts: overrides.hosts ?? ['api.example.com'],
    locations: overrides.locations ?? (['header', 'url'] as SecretLocation[]),
  };
}

/** fast-check arbitrary of placeholders. */
export const placeholderArb = fc
  .string({ unit: fc.constantFrom(...ALNUM), minLength: 32, maxLength: 32 })
  .map((body) => `veil_${body}`);

/** Counts non-overlapping occurrences. */
export function count(haystack: string, needle: string): number {
  if (needle === '') return 0;
  let n = 0;
  let i = haystack.indexOf(needle);
  while (i !== -1) {
    n++;
    i = haystack.indexOf(needle, i + needle.length);
  }
  return n;
}
