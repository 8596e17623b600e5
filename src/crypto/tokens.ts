/** Random identifiers and credentials: placeholders, API keys, proxy tokens, and their hashing. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const PLACEHOLDER_PREFIX = 'veil_';
export const PLACEHOLDER_BODY_LENGTH = 32;
export const PLACEHOLDER_LENGTH = PLACEHOLDER_PREFIX.length + PLACEHOLDER_BODY_LENGTH;
export const PLACEHOLDER_PATTERN = /^veil_[A-Za-z0-9]{32}$/;

/**
 * `count` characters drawn uniformly from [A-Za-z0-9]. Rejection sampling: bytes >= 248 (= 4*62)
 * are discarded so that `byte % 62` has no bias.
 */
export function randomAlphanumeric(count: number): string {
  const limit = 256 - (256 % ALPHANUMERIC.length);
  let out = '';
  while (out.length < count) {
    for (const byte of randomBytes(count * 2)) {
      if (byte >= limit) continue;
      out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
      if (out.length === count) break;
    }
  }
  return out;
}

/** `veil_` + 32 alphanumerics (~190 bits). Never derived from the value. */
export function generatePlaceholder(): string {
  return PLACEHOLDER_PREFIX + randomAlphanumeric(PLACEHOLDER_BODY_LENGTH);
}

export function sha256Hex(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex');
}

/** Constant-time equality of two strings (length differences are not hidden, contents are). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    timingSafeEqual(left, left); // keep the work similar on a length mismatch
    return false;
  }
  return timingSafeEqual(left, right);
}

const API_KEY_PATTERN = /^veil_key_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/** `keyId` is the key record's UUID; the key embeds it without dashes. */
export function generateApiKey(keyId: string): string {
  const compact = keyId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(compact)) throw new Error('API key id must be a UUID');
  return `veil_key_${compact}_${randomBytes(32).toString('base64url')}`;
}

/** Returns the key record id (UUID form) embedded in a Veil API key, or null if it is not one. */
export function parseApiKey(key: string): { keyId: string } | null {
  const match = API_KEY_PATTERN.exec(key);
  if (!match) return null;
  const hex = match[1]!;
  return { keyId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
}

/** 32 random bytes, base64url. Stored only as sha256Hex. */
export function generateProxyToken(): string {
  return randomBytes(32).toString('base64url');
}
