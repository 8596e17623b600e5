import { BadRequestError } from '../../errors.js';
import { escapeLikePattern, SECRET_SORT_COLUMNS } from '../paging-common.js';
import type { SecretPageQuery, SecretSortField } from '../types.js';
import { SECRET_COLUMNS } from './rows.js';

/** Cursor values for timestamp sorts arrive as epoch milliseconds (or an ISO string). */
function cursorSortValue(sort: SecretSortField, value: string | number): string | Date {
  if (sort === 'name') return String(value);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new BadRequestError('invalid pagination cursor');
  return date;
}

export interface SqlStatement {
  text: string;
  values: unknown[];
}

/**
 * One statement for a keyset page and the filter's total, so both come from one snapshot:
 * the count is a one-row derived table LEFT JOINed to the page, which keeps the total even when
 * the page is empty (one row of NULL page columns). Ties on the sort value are broken by id in the
 * same direction, so the order is total and a cursor never skips or repeats a row.
 */
export function buildSecretPageStatement(query: SecretPageQuery): SqlStatement {
  const column = SECRET_SORT_COLUMNS[query.sort];
  const direction = query.order === 'desc' ? 'DESC' : 'ASC';
  const values: unknown[] = [query.orgId];
  const filters = ['org_id = $1'];
  if (query.nameContains !== undefined && query.nameContains !== '') {
    values.push(`%${escapeLikePattern(query.nameContains)}%`);
    filters.push(`name ILIKE $${values.length} ESCAPE '\\'`);
  }
  const filterSql = filters.join(' AND ');
  const pageFilters = [...filters];
  if (query.after !== undefined) {
    values.push(cursorSortValue(query.sort, query.after.value), query.after.id);
    const comparison = query.order === 'desc' ? '<' : '>';
    pageFilters.push(`(${column}, id) ${comparison} ($${values.length - 1}, $${values.length})`);
  }
  values.push(Math.max(0, Math.floor(query.limit)));
  const orderBy = `${column} ${direction}, id ${direction}`;
  const text = `
    SELECT total.n AS total, page.*
    FROM (SELECT count(*)::integer AS n FROM secrets WHERE ${filterSql}) AS total
    LEFT JOIN LATERAL (
      SELECT ${SECRET_COLUMNS} FROM secrets
      WHERE ${pageFilters.join(' AND ')}
      ORDER BY ${orderBy}
      LIMIT $${values.length}
    ) AS page ON true
    ORDER BY page.${column} ${direction}, page.id ${direction}`;
  return { text, values };
}
