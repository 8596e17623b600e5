/** Wire shapes of the Veil control-plane API (Daytona-compatible). Dates are ISO-8601 strings. */
import type { Scope, SecretLocation } from '../store/types.js';

export type { Scope, SecretLocation };

/** A secret as the API returns it. The value is write-only and never comes back. */
export interface Secret {
  id: string;
  name: string;
  description?: string | null;
  /** `veil_` + 32 alphanumerics: what sandboxes see instead of the value. */
  placeholder: string;
  /** Destination hosts the value may be sent to (exact names or `*.example.com`). */
  hosts: string[];
  /** Where in a request the proxy substitutes the value. */
  locations: SecretLocation[];
  createdAt: string;
  updatedAt: string;
}

export interface CreateSecretParams {
  name: string;
  value: string;
  description?: string;
  hosts?: string[];
  locations?: SecretLocation[];
}

export interface UpdateSecretParams {
  name?: string;
  value?: string;
  description?: string;
  hosts?: string[];
  locations?: SecretLocation[];
}

export type SecretSort = 'name' | 'createdAt' | 'updatedAt';

export interface SecretPageQuery {
  cursor?: string;
  limit?: number;
  /** Case-insensitive substring filter on the name. */
  name?: string;
  sort?: SecretSort;
  order?: 'asc' | 'desc';
}

export interface ListSecretsResponse {
  items: Secret[];
  total: number;
  nextCursor: string | null;
}

/** `{ENV_VAR: secretName}` entries, Daytona's mount shape. */
export type SecretMounts = Array<Record<string, string>>;

export interface Sandbox {
  id: string;
  organizationId?: string;
  name: string;
  secrets: SecretMounts;
  /** Env vars to give the sandbox: mounted secrets as placeholders. */
  env: Record<string, string>;
  /** Only in the create reply: the sandbox's proxy credential. Shown once. */
  proxyToken?: string;
  createdAt: string;
  updatedAt?: string;
}

export interface CreateSandboxParams {
  name?: string;
  /** Either Daytona's `[{ENV: name}]` or a plain `{ENV: name}` map. */
  secrets?: SecretMounts | Record<string, string>;
}

/** One entry of `GET /sandbox/{id}/secrets` (scope proxy:resolve): carries real values. */
export interface ResolvedSandboxSecret {
  env: string;
  placeholder: string;
  value: string;
  hosts: string[];
  locations?: SecretLocation[];
  name?: string;
}

export interface Org {
  id: string;
  name: string;
  createdAt: string;
}

export interface CreateApiKeyParams {
  /** Org name or id. */
  org: string;
  scopes: Scope[];
  name?: string;
  /** Restrict the key to one sandbox (proxy keys). */
  sandboxId?: string;
  /** Lifetime: "90s", "15m", "12h", "30d". */
  expiresIn?: string;
  /** Or an absolute ISO-8601 expiry. */
  expiresAt?: string;
}

/** A key as listed: never the key itself. */
export interface ApiKeyInfo {
  id: string;
  orgId: string;
  name: string | null;
  scopes: Scope[];
  sandboxId: string | null;
  createdAt: string;
  /** ISO-8601; null: never expires. */
  expiresAt: string | null;
}

export interface ApiKey {
  id: string;
  orgId?: string;
  name?: string | null;
  scopes: Scope[];
  sandboxId?: string | null;
  createdAt?: string;
  expiresAt?: string | null;
  /** The key itself: returned once, at creation. */
  key: string;
}

export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string;
}
