import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { VeilConfig } from '../config/index.js';
import { ensurePrivateDir } from '../crypto/master-key.js';
import type { ChangeFeed } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import type { Repository } from '../store/types.js';

/** The SQLite database in the data directory (when VEIL_DATABASE_URL is not set). */
export const SQLITE_FILE = 'veil.db';

/** = DEFAULT_CHANGE_CHANNEL of events/pg-feed.ts (not imported: that would load pg for SQLite users). */
const DEFAULT_CHANGE_CHANNEL = 'veil_changes';

export interface PostgresTarget {
  /** The connection URL without Veil's own `schema` parameter. */
  url: string;
  /** `?schema=NAME` of VEIL_DATABASE_URL: every table lives in this schema (created on first start). */
  schema: string | undefined;
  /** NOTIFY channel of the change feed: replicas on one database and schema share it. */
  channel: string;
}

/**
 * Splits Veil's `schema` query parameter off a PostgreSQL URL (the driver would not understand it).
 * Replicas in different schemas of one database get different NOTIFY channels, so their change
 * feeds do not mix.
 */
export function postgresTarget(databaseUrl: string): PostgresTarget {
  const parsed = new URL(databaseUrl);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema === undefined) return { url: databaseUrl, schema: undefined, channel: DEFAULT_CHANGE_CHANNEL };
  parsed.searchParams.delete('schema');
  const digest = createHash('sha256').update(schema).digest('hex').slice(0, 16);
  return { url: parsed.toString(), schema, channel: `${DEFAULT_CHANGE_CHANNEL}_${digest}` };
}

/**
 * Opens and migrates the configured store: PostgreSQL when VEIL_DATABASE_URL is set, else
 * `<dataDir>/veil.db` (in WAL mode, file 0600, in a 0700 directory). The one place Veil opens its
 * store: `veil serve`, local mode and `veil orgs|keys` all come here, and hand the repository to
 * openControlPlane. The caller closes it.
 */
export async function openRepository(config: Pick<VeilConfig, 'dataDir' | 'databaseUrl'>): Promise<Repository> {
  if (config.databaseUrl) {
    const { openPostgresRepository } = await import('../store/postgres.js');
    const target = postgresTarget(config.databaseUrl);
    return openPostgresRepository(target.url, target.schema !== undefined ? { schema: target.schema } : {});
  }
  await ensurePrivateDir(config.dataDir);
  const { openSqliteRepository } = await import('../store/sqlite.js');
  return openSqliteRepository(join(config.dataDir, SQLITE_FILE));
}

/** A change feed that other processes share; the caller closes it. */
export type SharedChangeFeed = ChangeFeed & { close(): Promise<void> };

/**
 * The change feed shared by every process that writes to one store: `veil serve` replicas, and
 * the CLI working directly on the store (`veil secrets`, `veil run`, `veil env` without an API
 * URL), so a rotation or deletion made by either reaches every proxy at once instead of when its
 * cache entry expires. PostgreSQL: LISTEN/NOTIFY on the database (and schema). SQLite: a small
 * table in `<dataDir>/veil.db` that each process polls (PRAGMA data_version, every 100 ms). Open
 * it after openRepository (which creates the table). The caller closes it; on PostgreSQL close()
 * sends the NOTIFYs still pending first, on SQLite every publish is written before it returns.
 */
export async function openChangeFeed(
  config: Pick<VeilConfig, 'databaseUrl' | 'dataDir'>,
  logger: Logger,
  options: { applicationName?: string } = {},
): Promise<SharedChangeFeed> {
  if (!config.databaseUrl) {
    const { SqliteChangeFeed } = await import('../events/sqlite-feed.js');
    return new SqliteChangeFeed(join(config.dataDir, SQLITE_FILE), {
      // The SQLite error text names the file or lock problem, never a value (events carry ids only).
      onError: (error) => logger.warn({ err: { message: error.message } }, 'change feed (SQLite) error'),
    });
  }
  const target = postgresTarget(config.databaseUrl);
  const { PgChangeFeed } = await import('../events/pg-feed.js');
  const name = options.applicationName ?? 'veil';
  return PgChangeFeed.connect(target.url, {
    channel: target.channel,
    // pg_stat_activity shows who holds LISTEN connections (and on which schema).
    applicationName: target.schema !== undefined ? `${name}:${target.schema}` : name,
    // The pg error text names the database problem, never a value (events carry ids only).
    onError: (error) => logger.warn({ err: { message: error.message } }, 'change feed (PostgreSQL LISTEN/NOTIFY) error'),
  });
}
