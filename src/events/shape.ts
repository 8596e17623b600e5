import type { ChangeEvent } from './types.js';

/**
 * The one change-event shape check: a ChangeEvent rebuilt from exactly its known fields (nothing
 * else a publisher attached travels on), or null when `value` is not a known event shape.
 */
export function toChangeEvent(value: unknown): ChangeEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const fields = value as Record<string, unknown>;
  switch (fields.kind) {
    case 'secret':
      if (typeof fields.orgId !== 'string' || typeof fields.secretId !== 'string') return null;
      return { kind: 'secret', orgId: fields.orgId, secretId: fields.secretId };
    case 'sandbox':
      if (typeof fields.orgId !== 'string' || typeof fields.sandboxId !== 'string') return null;
      return { kind: 'sandbox', orgId: fields.orgId, sandboxId: fields.sandboxId };
    case 'reset':
      return { kind: 'reset' };
    default:
      return null;
  }
}

/** A change event from its JSON text (SSE data, a stored row): the same check, null for bad JSON too. */
export function parseChangeEvent(text: string): ChangeEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  return toChangeEvent(data);
}
