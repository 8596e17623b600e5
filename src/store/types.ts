/**
 * The repository contract. SQLite (embedded default) and PostgreSQL implement it; the same
 * contract test suite runs against both. All methods are async so that a networked store fits.
 * Records carry ciphertext only: encryption and validation live in the service layer.
 */

export const SCOPES = ['secrets:read', 'secrets:write', 'sandboxes:write', 'proxy:resolve', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const SECRET_LOCATIONS = ['header', 'url', 'body'] as const;
export type SecretLocation = (typeof SECRET_LOCATIONS)[number];
export const DEFAULT_LOCATIONS: SecretLocation[] = ['header', 'url'];

export interface OrgRecord {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string | null;
  /** sha256(hex) of the key's secret part; the key itself is never stored. */
  secretHash: string;
  scopes: Scope[];
  /** When set, the key may only act on (resolve) this one sandbox. */
  sandboxId: string | null;
  createdAt: Date;
  /** After this instant the key is refused (401, "expired"); null: never expires. */
  expiresAt: Date | null;
}

export interface SecretRecord {
  id: string;
  orgId: string;
  name: string;
  description: string | null;
  placeholder: string;
  hosts: string[];
  locations: SecretLocation[];
  /** Envelope-encrypted value (see src/crypto/envelope.ts). */
  encryptedValue: Buffer;
  createdAt: Date;
  updatedAt: Date;
}

export interface SandboxMountRecord {
  env: string;
  secretId: string;
}

export interface SandboxRecord {
  id: string;
  orgId: string;
  name: string;
  /** Mounts reference secrets by id; deleting a secret removes its mounts. */
  mounts: SandboxMountRecord[];
  /** sha256(hex) of the proxy token. */
  proxyTokenHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export type SecretSortField = 'name' | 'createdAt' | 'updatedAt';
export type SortOrder = 'asc' | 'desc';

/** Keyset position: the sort value of the last item seen and its id (tie-breaker). */
export interface SecretPageAfter {
  value: string | number;
  id: string;
}

export interface SecretPageQuery {
  orgId: string;
  limit: number;
  sort: SecretSortField;
  order: SortOrder;
  /** Case-insensitive substring filter on the name. */
  nameContains?: string | undefined;
  after?: SecretPageAfter | undefined;
}

export interface SecretPage {
  items: SecretRecord[];
  /** Count of all items matching the filter (ignoring the cursor). */
  total: number;
}

export type SecretPatch = Partial<Pick<SecretRecord, 'name' | 'description' | 'hosts' | 'locations' | 'encryptedValue'>> & {
  updatedAt: Date;
};

export interface Repository {
  /** Applies pending versioned migrations. Idempotent and safe to run concurrently. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  createOrg(org: OrgRecord): Promise<OrgRecord>; // ConflictError on duplicate name
  getOrg(id: string): Promise<OrgRecord | null>;
  getOrgByName(name: string): Promise<OrgRecord | null>;
  listOrgs(): Promise<OrgRecord[]>;

  createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord>;
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  listApiKeys(orgId: string): Promise<ApiKeyRecord[]>;
  deleteApiKey(orgId: string, id: string): Promise<boolean>;

  createSecret(secret: SecretRecord): Promise<SecretRecord>; // ConflictError on duplicate (orgId, name)
  getSecret(orgId: string, id: string): Promise<SecretRecord | null>;
  getSecretByName(orgId: string, name: string): Promise<SecretRecord | null>;
  listSecrets(orgId: string): Promise<SecretRecord[]>;
  pageSecrets(query: SecretPageQuery): Promise<SecretPage>;
  /** Returns null when the secret does not exist in that org. ConflictError on a name clash. */
  updateSecret(orgId: string, id: string, patch: SecretPatch): Promise<SecretRecord | null>;
  deleteSecret(orgId: string, id: string): Promise<boolean>;

  createSandbox(sandbox: SandboxRecord): Promise<SandboxRecord>;
  getSandbox(orgId: string, id: string): Promise<SandboxRecord | null>;
  /** Org-less lookup, for the proxy path which only knows the sandbox id. */
  getSandboxById(id: string): Promise<SandboxRecord | null>;
  /** Exact (case-sensitive) name within the org; names are unique per org. */
  getSandboxByName(orgId: string, name: string): Promise<SandboxRecord | null>;
  listSandboxes(orgId: string): Promise<SandboxRecord[]>;
  replaceSandboxMounts(orgId: string, id: string, mounts: SandboxMountRecord[], updatedAt: Date): Promise<SandboxRecord | null>;
  deleteSandbox(orgId: string, id: string): Promise<boolean>;
}
