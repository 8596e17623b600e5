/**
 * Where `veil orgs` and `veil keys` act (adminMode, src/config/mode.ts): a control plane over
 * HTTP (an API URL set, no --data-dir), or the store directly (no server needed; safe next to a
 * running server thanks to SQLite WAL).
 */
import { ApiKeyService, OrgService } from '../client/index.js';
import { adminMode, UsageError, type Env, type ModeFlags } from '../config/index.js';
import type { AdminBackend } from './admin-backend-type.js';

export type { AdminBackend } from './admin-backend-type.js';

export const ADMIN_FLAGS = {
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export async function openAdminBackend(env: Env, flags: ModeFlags): Promise<AdminBackend> {
  const mode = adminMode(flags, env);
  if (mode.kind === 'remote') {
    const apiUrl = mode.apiUrl;
    const apiKey = env.VEIL_API_KEY;
    if (!apiKey) throw new UsageError('set VEIL_API_KEY to an admin API key (or unset VEIL_API_URL to work on the data directory)');
    const orgs = new OrgService({ apiUrl, apiKey });
    const keys = new ApiKeyService({ apiUrl, apiKey });
    return {
      where: apiUrl,
      createOrg: (name) => orgs.create(name),
      listOrgs: () => orgs.list(),
      createKey: (params) => keys.create(params),
      listKeys: (org) => keys.list(org),
      revokeKey: (id) => keys.revoke(id),
      close: async () => undefined,
    };
  }
  // Loaded lazily: client-only use of the CLI should not open native modules.
  const { openLocalAdminBackend } = await import('./local-admin.js');
  return openLocalAdminBackend(mode);
}
