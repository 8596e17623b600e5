/**
 * What `veil orgs` and `veil keys` need from wherever they act. Its own file so both
 * implementations (admin-backend.ts over HTTP, local-admin.ts on the store) import it without
 * importing each other.
 */
import type { ApiKey, ApiKeyInfo, CreateApiKeyParams, Org } from '../client/index.js';

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
