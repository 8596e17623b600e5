/**
 * Where `veil orgs` and `veil keys` act (adminMode, src/config/mode.ts): a control plane over
 * HTTP (an API URL set, no --data-dir), or the store directly (no server needed; safe next to a
 * running server thanks to SQLite WAL).
 */
import { ApiKeyService, OrgService, type ApiKey, type ApiKeyInfo, type CreateApiKeyParams, type Org } from '../client/index.js';
import { adminMode, UsageError, type Env, type ModeFlags } from '../config/index.js';

export interface AdminBackend {
  /** Human description for messages: the URL or the data directory. */
  readonly where: string;
  createOrg(name: string): Promise<Org>;
  listOrgs(): Promise<Org[]>;
  createKey(params: CreateApiKeyParams): Promise<ApiKey>;
  /** `org` name or id; without it, every org the caller administers. */
  listKeys(org?: string): Promise<ApiKeyInfo[]>;
  revokeKey(id: string): Promise<void>;
  close(): Promise<void>;
}

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
