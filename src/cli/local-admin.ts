/** `veil orgs` / `veil keys` working directly on the store (no server). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openRepository, SQLITE_FILE } from '../app/repository.js';
import { UsageError, type AdminMode } from '../config/index.js';
import { ApiKeysService, OrgsService } from '../service/orgs.js';
import type { Scope } from '../store/types.js';
import type { AdminBackend } from './admin-backend-type.js';

export async function openLocalAdminBackend(mode: Extract<AdminMode, { kind: 'local' }>): Promise<AdminBackend> {
  const { dataDir, databaseUrl } = mode;
  // Refuse to conjure an empty store in a mistyped directory.
  if (!databaseUrl && !existsSync(join(dataDir, SQLITE_FILE))) {
    throw new UsageError(`no Veil data in ${JSON.stringify(dataDir)} (no ${SQLITE_FILE}); run "veil serve" there first, pass --data-dir, or set VEIL_API_URL`);
  }
  const repo = await openRepository({ dataDir, databaseUrl });
  const orgs = new OrgsService(repo);
  const keys = new ApiKeysService(repo, orgs);
  return {
    where: databaseUrl ? 'the PostgreSQL database' : dataDir,
    createOrg: (name) => orgs.create({ name }),
    listOrgs: () => orgs.list(),
    // Views carry scopes as plain strings; they were validated against SCOPES on the way in.
    createKey: async (params) => {
      const created = await keys.create(params);
      return { ...created, scopes: created.scopes as Scope[] };
    },
    // The data directory is the whole instance: every org, like the instance admin.
    listKeys: async (org) => (await keys.list({ org })).map((key) => ({ ...key, scopes: key.scopes as Scope[] })),
    revokeKey: (id) => keys.revoke(id),
    close: () => repo.close(),
  };
}
