import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decryptValue, DecryptionError, encryptValue } from '../../src/crypto/envelope.js';

const masterKey = randomBytes(32);
const context = { orgId: 'org-1', secretId: 'secret-1' };

describe('envelope encryption', () => {
  it('round-trips any UTF-8 value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), (value) => {
        expect(decryptValue(masterKey, context, encryptValue(masterKey, context, value))).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('uses a fresh data key and IVs every time and never stores plaintext', () => {
    const value = 'sk-live-plaintext-marker-1234567890';
    const a = encryptValue(masterKey, context, value);
    const b = encryptValue(masterKey, context, value);
    expect(a.equals(b)).toBe(false);
    expect(a[0]).toBe(1); // version byte
    expect(a.includes(Buffer.from(value))).toBe(false);
    expect(a.includes(Buffer.from('plaintext-marker'))).toBe(false);
  });

  it('rejects any single-byte tampering anywhere in the blob', () => {
    const blob = encryptValue(masterKey, context, 'tamper-me-value');
    for (let index = 0; index < blob.length; index++) {
      const tampered = Buffer.from(blob);
      tampered[index] = tampered[index]! ^ 0x01;
      expect(() => decryptValue(masterKey, context, tampered), `byte ${index}`).toThrow(DecryptionError);
    }
  });

  it('binds the blob to its org and secret id (AAD)', () => {
    const blob = encryptValue(masterKey, context, 'bound-value');
    expect(() => decryptValue(masterKey, { orgId: 'org-2', secretId: 'secret-1' }, blob)).toThrow(DecryptionError);
    expect(() => decryptValue(masterKey, { orgId: 'org-1', secretId: 'secret-2' }, blob)).toThrow(DecryptionError);
    // The separator keeps ("org-1:x", "y") and ("org-1", "x:y") apart only if ids have no ':'; UUIDs never do.
    expect(decryptValue(masterKey, context, blob)).toBe('bound-value');
  });

  it('fails with the wrong master key, a truncated blob or an unknown version, without echoing the value', () => {
    const value = 'wrong-key-value-marker';
    const blob = encryptValue(masterKey, context, value);
    const attempts: Array<() => unknown> = [
      () => decryptValue(randomBytes(32), context, blob),
      () => decryptValue(masterKey, context, blob.subarray(0, 40)),
      () => decryptValue(masterKey, context, Buffer.concat([Buffer.from([2]), blob.subarray(1)])),
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        attempt();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DecryptionError);
      expect(String((error as Error).message)).not.toContain(value);
      expect(String((error as Error).stack)).not.toContain(value);
    }
  });

  it('refuses a master key of the wrong length', () => {
    expect(() => encryptValue(randomBytes(16), context, 'x')).toThrow(/32 bytes/);
  });
});
