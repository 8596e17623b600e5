/** API shapes of records (Daytona wire format). No view ever carries a secret value. */
import type { ApiKeyRecord, OrgRecord, SandboxRecord, SecretLocation, SecretRecord } from '../store/types.js';

export interface SecretView {
  id: string;
  name: string;
  description: string | null;
  placeholder: string;
  hosts: string[];
  locations: SecretLocation[];
  createdAt: string;
  updatedAt: string;
}

export interface SandboxView {
  id: string;
  organizationId: string;
  name: string;
  /** Daytona's mount shape: `[{ENV_VAR: secretName}]`. */
  secrets: Array<Record<string, string>>;
  /** What the sandbox should get as env vars: `{ENV_VAR: placeholder}`. */
  env: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface OrgView {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyView {
  id: string;
  orgId: string;
  name: string | null;
  scopes: string[];
  sandboxId: string | null;
  createdAt: string;
  /** ISO-8601; null: never expires. */
  expiresAt: string | null;
}

export function secretView(record: SecretRecord): SecretView {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    placeholder: record.placeholder,
    hosts: [...record.hosts],
    locations: [...record.locations],
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

export function sandboxView(record: SandboxRecord, secretsById: ReadonlyMap<string, SecretRecord>): SandboxView {
  const secrets: Array<Record<string, string>> = [];
  const env: Record<string, string> = {};
  for (const mount of record.mounts) {
    const secret = secretsById.get(mount.secretId);
    if (!secret) continue; // deleted concurrently; the cascade removes the mount
    secrets.push({ [mount.env]: secret.name });
    env[mount.env] = secret.placeholder;
  }
  return {
    id: record.id,
    organizationId: record.orgId,
    name: record.name,
    secrets,
    env,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

export function orgView(record: OrgRecord): OrgView {
  return { id: record.id, name: record.name, createdAt: record.createdAt.toISOString() };
}

export function apiKeyView(record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    orgId: record.orgId,
    name: record.name,
    scopes: [...record.scopes],
    sandboxId: record.sandboxId,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt?.toISOString() ?? null,
  };
}
