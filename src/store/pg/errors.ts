import { BadRequestError, ConflictError } from '../../errors.js';

/** The subset of node-postgres' DatabaseError we look at. */
interface PgDatabaseError {
  code?: unknown;
  constraint?: unknown;
}

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

// Messages name the record kind (and the caller-supplied name), never a value or placeholder.
const CONFLICT_MESSAGES: Record<string, string> = {
  orgs_name_key: 'an organization with this name already exists',
  secrets_org_name_key: 'a secret with this name already exists',
  secrets_placeholder_key: 'placeholder collision, retry',
  sandbox_mounts_env_key: 'an environment variable is mounted twice',
};

/**
 * Maps constraint violations to the service-level errors (23505 -> ConflictError), so callers never
 * see driver errors for expected races; anything else is rethrown unchanged.
 */
export function translatePgError(err: unknown, label?: string): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const { code, constraint } = err as PgDatabaseError;
  if (code === UNIQUE_VIOLATION) {
    const base = (typeof constraint === 'string' && CONFLICT_MESSAGES[constraint]) || 'a record with this id already exists';
    return new ConflictError(label ? `${base}: ${label}` : base);
  }
  if (code === FOREIGN_KEY_VIOLATION) return new BadRequestError('the record references something that does not exist');
  return err;
}
