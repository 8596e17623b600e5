/**
 * API key expiry: `expiresIn` ("90s", "15m", "12h", "30d") or `expiresAt` (ISO-8601) in a
 * create request, stored as an absolute instant. A key past it answers 401 saying it expired.
 */
import { BadRequestError } from '../errors.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** Ten years: anything longer is a typo, and "never" is simply leaving expiry out. */
export const MAX_KEY_LIFETIME_MS = 3650 * UNIT_MS.d;

/** Milliseconds of "<n><s|m|h|d>", or null when the text is not of that form. */
export function parseDuration(text: string): number | null {
  const match = /^([1-9][0-9]{0,9})([smhd])$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The expiry instant a create request asks for (null: never), validated. */
export function validateExpiry(input: { expiresIn?: unknown; expiresAt?: unknown }, now: Date): Date | null {
  const given = (value: unknown) => value !== undefined && value !== null && value !== '';
  if (given(input.expiresIn) && given(input.expiresAt)) throw new BadRequestError('give expiresIn or expiresAt, not both');
  let at: Date;
  if (given(input.expiresIn)) {
    const ms = typeof input.expiresIn === 'string' ? parseDuration(input.expiresIn) : null;
    if (ms === null) throw new BadRequestError('expiresIn must be a duration like "90s", "15m", "12h" or "30d"');
    at = new Date(now.getTime() + ms);
  } else if (given(input.expiresAt)) {
    const parsed = typeof input.expiresAt === 'string' && /^\d{4}-\d\d-\d\dT/.test(input.expiresAt) ? new Date(input.expiresAt) : null;
    if (!parsed || Number.isNaN(parsed.getTime())) throw new BadRequestError('expiresAt must be an ISO-8601 date-time, e.g. "2030-01-31T00:00:00Z"');
    if (parsed.getTime() <= now.getTime()) throw new BadRequestError('expiresAt must be in the future');
    at = parsed;
  } else {
    return null;
  }
  if (at.getTime() - now.getTime() > MAX_KEY_LIFETIME_MS) throw new BadRequestError('expiry must be at most 3650 days away (leave it out for a key that never expires)');
  return at;
}

export function isExpired(key: { expiresAt: Date | null }, now: Date): boolean {
  return key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
}
