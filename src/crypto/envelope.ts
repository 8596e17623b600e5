/**
 * Envelope encryption of secret values. Each value gets its own random 32-byte data key
 * (AES-256-GCM); the data key is wrapped with the master key (AES-256-GCM). Both layers bind the
 * associated data `veil:v1:<orgId>:<secretId>`, so a blob copied onto another secret or org row
 * fails to decrypt instead of leaking under the wrong name.
 *
 * Blob layout (version 1):
 *   [0]      version = 0x01
 *   [1..13)  wrap IV (12)     [13..29) wrap tag (16)   [29..61) wrapped data key (32)
 *   [61..73) data IV (12)     [73..89) data tag (16)   [89..)   ciphertext
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const ENVELOPE_VERSION = 1;
const KEY_LENGTH = 32;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + IV_LENGTH + TAG_LENGTH + KEY_LENGTH + IV_LENGTH + TAG_LENGTH;

/** Raised when a blob cannot be opened. The message never includes plaintext or key material. */
export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export function envelopeAad(orgId: string, secretId: string): Buffer {
  return Buffer.from(`veil:v${ENVELOPE_VERSION}:${orgId}:${secretId}`, 'utf8');
}

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): { iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

function open(key: Buffer, iv: Buffer, tag: Buffer, ciphertext: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function assertMasterKey(masterKey: Buffer): void {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== KEY_LENGTH) {
    throw new Error(`master key must be exactly ${KEY_LENGTH} bytes`);
  }
}

export interface EnvelopeContext {
  orgId: string;
  secretId: string;
}

/** Encrypts a value under a fresh data key. Every call yields a different blob. */
export function encryptValue(masterKey: Buffer, context: EnvelopeContext, value: string): Buffer {
  assertMasterKey(masterKey);
  const aad = envelopeAad(context.orgId, context.secretId);
  const dataKey = randomBytes(KEY_LENGTH);
  try {
    const wrapped = seal(masterKey, dataKey, aad);
    const data = seal(dataKey, Buffer.from(value, 'utf8'), aad);
    return Buffer.concat([Buffer.from([ENVELOPE_VERSION]), wrapped.iv, wrapped.tag, wrapped.ciphertext, data.iv, data.tag, data.ciphertext]);
  } finally {
    dataKey.fill(0);
  }
}

/** Decrypts a blob made by encryptValue for the same org and secret id. */
export function decryptValue(masterKey: Buffer, context: EnvelopeContext, blob: Buffer): string {
  assertMasterKey(masterKey);
  if (!Buffer.isBuffer(blob) || blob.length < HEADER_LENGTH) throw new DecryptionError('encrypted value is truncated');
  if (blob[0] !== ENVELOPE_VERSION) throw new DecryptionError(`unsupported encrypted value version ${blob[0]}`);
  const aad = envelopeAad(context.orgId, context.secretId);
  let offset = 1;
  const take = (length: number): Buffer => {
    const part = blob.subarray(offset, offset + length);
    offset += length;
    return part;
  };
  const wrapIv = take(IV_LENGTH);
  const wrapTag = take(TAG_LENGTH);
  const wrappedKey = take(KEY_LENGTH);
  const dataIv = take(IV_LENGTH);
  const dataTag = take(TAG_LENGTH);
  const ciphertext = blob.subarray(offset);
  let dataKey: Buffer;
  try {
    dataKey = open(masterKey, wrapIv, wrapTag, wrappedKey, aad);
  } catch {
    throw new DecryptionError('cannot unwrap data key: wrong master key, or the value was tampered with or moved');
  }
  try {
    return open(dataKey, dataIv, dataTag, ciphertext, aad).toString('utf8');
  } catch {
    throw new DecryptionError('cannot decrypt value: it was tampered with or moved');
  } finally {
    dataKey.fill(0);
  }
}
