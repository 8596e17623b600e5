/** Secret paging pieces shared by the SQLite and PostgreSQL stores (same column names in both schemas). */
import type { SecretSortField } from './types.js';

export const SECRET_SORT_COLUMNS: Record<SecretSortField, string> = {
  name: 'name',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};

/**
 * Escapes LIKE metacharacters so the user's text matches literally. Both stores name the escape
 * character explicitly (`ESCAPE '\'`): SQLite has no default one, PostgreSQL's default is also `\`.
 */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}
