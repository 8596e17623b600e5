import { join } from 'node:path';
import type { VeilConfig } from '../config/index.js';
import { ensurePrivateDir } from '../crypto/master-key.js';
import type { Repository } from '../store/types.js';

export { SQLITE_FILE_NAME as SQLITE_FILE } from '../api/control-plane.js';
import { SQLITE_FILE_NAME } from '../api/control-plane.js';

/** Opens and migrates the configured store: PostgreSQL when VEIL_DATABASE_URL is set, else `<dataDir>/veil.db`. */
export async function openRepository(config: Pick<VeilConfig, 'dataDir' | 'databaseUrl'>): Promise<Repository> {
  if (config.databaseUrl) {
    const { openPostgresRepository } = await import('../store/postgres.js');
    return openPostgresRepository(config.databaseUrl);
  }
  await ensurePrivateDir(config.dataDir);
  const { openSqliteRepository } = await import('../store/sqlite.js');
  return openSqliteRepository(join(config.dataDir, SQLITE_FILE_NAME));
}
