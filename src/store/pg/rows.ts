import type { ApiKeyRecord, OrgRecord, SandboxMountRecord, SandboxRecord, Scope, SecretLocation, SecretRecord } from '../types.js';

/** Row shapes as node-postgres returns them (timestamptz -> Date, text[] -> string[], bytea -> Buffer). */
export interface OrgRow {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  org_id: string;
  name: string | null;
  secret_hash: string;
  scopes: string[];
  sandbox_id: string | null;
  created_at: Date;
  expires_at: Date | null;
}

export interface SecretRow {
  id: string;
  org_id: string;
  name: string;
  description: string | null;
  placeholder: string;
  hosts: string[];
  locations: string[];
  encrypted_value: Buffer;
  created_at: Date;
  updated_at: Date;
}

export interface SandboxRow {
  id: string;
  org_id: string;
  name: string;
  proxy_token_hash: string;
  created_at: Date;
  updated_at: Date;
}

export interface MountRow {
  sandbox_id: string;
  env: string;
  secret_id: string;
}

export const SECRET_COLUMNS = 'id, org_id, name, description, placeholder, hosts, locations, encrypted_value, created_at, updated_at';
export const SANDBOX_COLUMNS = 'id, org_id, name, proxy_token_hash, created_at, updated_at';
export const API_KEY_COLUMNS = 'id, org_id, name, secret_hash, scopes, sandbox_id, created_at, expires_at';

export function orgFromRow(row: OrgRow): OrgRecord {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

export function apiKeyFromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    secretHash: row.secret_hash,
    scopes: row.scopes as Scope[],
    sandboxId: row.sandbox_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? null,
  };
}

export function secretFromRow(row: SecretRow): SecretRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    description: row.description,
    placeholder: row.placeholder,
    hosts: row.hosts,
    locations: row.locations as SecretLocation[],
    encryptedValue: row.encrypted_value,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function sandboxFromRow(row: SandboxRow, mounts: SandboxMountRecord[]): SandboxRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    mounts,
    proxyTokenHash: row.proxy_token_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
