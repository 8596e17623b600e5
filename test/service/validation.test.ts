/** Validation rules as properties: what is accepted, and that value errors never quote the value. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../src/errors.js';
import {
  SECRET_VALUE_MAX_BYTES,
  validateLocations,
  validateMountList,
  validateSecretName,
  validateSecretValue,
} from '../../src/service/validation.js';

function messageOf(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return (error as Error).message;
  }
}

describe('validation', () => {
  it('secret names: accepted exactly when they match the pattern and length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (name) => {
        const valid = /^[a-zA-Z_][a-zA-Z0-9_-]*$/.test(name) && name.length <= 256;
        const message = messageOf(() => validateSecretName(name));
        expect(message === null).toBe(valid);
        if (message) expect(message.startsWith('name ')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('value errors never contain the value (or a piece of it)', () => {
    const candidates = fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 8, maxLength: 64 }).map((text) => `VAL${text}`.repeat(Math.ceil((SECRET_VALUE_MAX_BYTES + 8) / 8))),
      fc.string({ minLength: 8, maxLength: 40 }).map((text) => `VAL-\ud800-${text}`),
      fc.constant(''),
    );
    fc.assert(
      fc.property(candidates, (value) => {
        const message = messageOf(() => validateSecretValue(value));
        expect(message).not.toBeNull();
        expect(message!.startsWith('value ')).toBe(true);
        if (value.length >= 8) expect(message!).not.toContain(value.slice(0, 8));
      }),
      { numRuns: 100 },
    );
  });

  it('accepts values up to 64 KiB of UTF-8 and round-trips them unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 500 }), (value) => {
        expect(validateSecretValue(value)).toBe(value);
      }),
    );
  });

  it('locations are canonicalized; mounts accept both Daytona list and plain map', () => {
    expect(validateLocations(undefined)).toEqual(['header', 'url']);
    expect(validateLocations(['body', 'url', 'body'])).toEqual(['url', 'body']);
    expect(validateMountList([{ A: 'x' }, { B: 'y' }])).toEqual(validateMountList({ A: 'x', B: 'y' }));
    expect(messageOf(() => validateMountList([{ A: 'x', B: 'y' }, { B: 'z' }]))).toMatch(/"B" is mounted more than once/);
  });
});
