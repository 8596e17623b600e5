import { BadRequestError, ConflictError } from '../../errors.js';

/** The subset of node-postgres' DatabaseError we look at. */
interface PgDatabaseError {
  code?: unknown;
  constraint?: unknown;
}

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
// Text PostgreSQL cannot store (NUL, invalid UTF-8): a client error, not a server fault.
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

// Messages name the record kind and the caller-supplied name, never a value or a placeholder.
// They match the SQLite store's wording so the API answers the same on either backend.
const CONFLICT_MESSAGES: Record<string, (name: string) => string> = {
  orgs_name_key: (name) => `an organization named "${name}" already exists`,
  secrets_org_name_key: (name) => `a secret named "${name}" already exists`,
  sandboxes_org_name_key: (name) => `a sandbox named "${name}" already exists`,
  secrets_placeholder_key: () => 'placeholder collision, retry',
  sandbox_mounts_env_key: () => 'an environment variable is mounted twice',
};

/**
 * Maps constraint violations to service-level errors (23505 unique and 23503 foreign key ->
 * ConflictError), so callers never see driver errors for expected races; anything else is
 * returned unchanged for rethrowing.
 */
export function translatePgError(err: unknown, name = ''): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const { code, constraint } = err as PgDatabaseError;
  if (code === UNIQUE_VIOLATION) {
    const describe = typeof constraint === 'string' ? CONFLICT_MESSAGES[constraint] : undefined;
    return new ConflictError(describe ? describe(name) : 'a record with this id already exists');
  }
  // e.g. a mounted secret deleted concurrently, or a record of an org that is gone.
  if (code === FOREIGN_KEY_VIOLATION) return new ConflictError('a referenced record no longer exists');
  if (typeof code === 'string' && UNSTORABLE_TEXT.has(code)) return new BadRequestError('text fields must not contain NUL characters');
  return err;
}
