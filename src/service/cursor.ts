/** Opaque keyset cursors for secret pagination: base64url JSON of the last item's position. */
import { BadRequestError } from '../errors.js';
import type { SecretPageAfter, SecretSortField, SortOrder } from '../store/types.js';

interface CursorPayload {
  v: string | number;
  id: string;
  s: SecretSortField;
  o: SortOrder;
}

export function encodeCursor(after: SecretPageAfter, sort: SecretSortField, order: SortOrder): string {
  const payload: CursorPayload = { v: after.value, id: after.id, s: sort, o: order };
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { after: SecretPageAfter; sort: SecretSortField; order: SortOrder } {
  const invalid = new BadRequestError('cursor is not valid: pass back the nextCursor of a previous page unchanged');
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw invalid;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof payload !== 'object' || payload === null) throw invalid;
  const { v, id, s, o } = payload as Partial<CursorPayload>;
  if (typeof id !== 'string' || id.length > 64) throw invalid;
  if (s !== 'name' && s !== 'createdAt' && s !== 'updatedAt') throw invalid;
  if (o !== 'asc' && o !== 'desc') throw invalid;
  if (s === 'name' ? typeof v !== 'string' : typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid;
  return { after: { value: v as string | number, id }, sort: s, order: o };
}
