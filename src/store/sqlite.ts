/**
 * SQLite implementation of the Repository contract (better-sqlite3: synchronous calls wrapped in
 * async methods). WAL journal, foreign keys on, busy timeout so a second process waits for locks
 * instead of failing. Timestamps are stored as integer milliseconds.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConflictError } from '../errors.js';
import { escapeLikePattern, SECRET_SORT_COLUMNS } from './paging-common.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import type {
  ApiKeyRecord,
  OrgRecord,
  Repository,
  SandboxMountRecord,
  SandboxRecord,
  Scope,
  SecretLocation,
  SecretPage,
  SecretPageQuery,
  SecretPatch,
  SecretRecord,
} from './types.js';

type Row = Record<string, unknown>;

function sqliteCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

function isUniqueViolation(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs a write; a UNIQUE/PK violation becomes a ConflictError with a message naming the clash. */
function mapConflict<T>(run: () => T, describe: (error: unknown) => string): T {
  try {
    return run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(describe(error));
    if (sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new ConflictError('a referenced record no longer exists');
    throw error;
  }
}

function toOrg(row: Row): OrgRecord {
  return { id: row.id as string, name: row.name as string, createdAt: new Date(row.created_at as number) };
}

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: row.id as string,
    orgId: row.org_id as string,
    name: (row.name as string | null) ?? null,
    secretHash: row.secret_hash as string,
    scopes: JSON.parse(row.scopes as string) as Scope[],
    sandboxId: (row.sandbox_id as string | null) ?? null,
    createdAt: new Date(row.created_at as number),
    expiresAt: row.expires_at === null || row.expires_at === undefined ? null : new Date(row.expires_at as number),
  };
}

function toSecret(row: Row): SecretRecord {
  return {
    id: row.id as string,
    orgId: row.org_id as string,
    name: row.name as string,
    description: (row.description as string | null) ?? null,
    placeholder: row.placeholder as string,
    hosts: JSON.parse(row.hosts as string) as string[],
    locations: JSON.parse(row.locations as string) as SecretLocation[],
    encryptedValue: Buffer.from(row.encrypted_value as Uint8Array),
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
}

export class SqliteRepository implements Repository {
  private readonly db: Database.Database;

  constructor(file: string) {
    const fresh = file !== ':memory:' && !existsSync(file);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    // Owner-only, set before WAL mode so SQLite gives -wal/-shm the same mode. Holds ciphertext only.
    if (fresh) chmodSync(file, 0o600);
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = FULL');
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const apply = this.db.transaction(() => {
      const done = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((row) => row.version as number),
      );
      for (const migration of SQLITE_MIGRATIONS) {
        if (done.has(migration.version)) continue;
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.description, Date.now());
      }
    });
    apply.immediate();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- orgs -------------------------------------------------------------------------------

  async createOrg(org: OrgRecord): Promise<OrgRecord> {
    mapConflict(
      () => this.db.prepare('INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)').run(org.id, org.name, org.createdAt.getTime()),
      () => `an organization named "${org.name}" already exists`,
    );
    return { ...org };
  }

  async getOrg(id: string): Promise<OrgRecord | null> {
    const row = this.db.prepare('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined;
    return row ? toOrg(row) : null;
  }

  async getOrgByName(name: string): Promise<OrgRecord | null> {
    const row = this.db.prepare('SELECT * FROM orgs WHERE name = ?').get(name) as Row | undefined;
    return row ? toOrg(row) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    return (this.db.prepare('SELECT * FROM orgs ORDER BY created_at, id').all() as Row[]).map(toOrg);
  }

  // --- api keys ---------------------------------------------------------------------------

  async createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    mapConflict(
      () =>
        this.db
          .prepare('INSERT INTO api_keys (id, org_id, name, secret_hash, scopes, sandbox_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(key.id, key.orgId, key.name, key.secretHash, JSON.stringify(key.scopes), key.sandboxId, key.createdAt.getTime(), key.expiresAt?.getTime() ?? null),
      () => `an API key with id ${key.id} already exists`,
    );
    return { ...key, scopes: [...key.scopes] };
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
    return row ? toApiKey(row) : null;
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    return (this.db.prepare('SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[]).map(toApiKey);
  }

  async deleteApiKey(orgId: string, id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM api_keys WHERE org_id = ? AND id = ?').run(orgId, id).changes > 0;
  }

  // --- secrets ----------------------------------------------------------------------------

  async createSecret(secret: SecretRecord): Promise<SecretRecord> {
    mapConflict(
      () =>
        this.db
          .prepare(
            `INSERT INTO secrets (id, org_id, name, description, placeholder, hosts, locations, encrypted_value, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            secret.id,
            secret.orgId,
            secret.name,
            secret.description,
            secret.placeholder,
            JSON.stringify(secret.hosts),
            JSON.stringify(secret.locations),
            secret.encryptedValue,
            secret.createdAt.getTime(),
            secret.updatedAt.getTime(),
          ),
      (error) =>
        String((error as Error).message).includes('placeholder')
          ? 'placeholder collision, retry'
          : `a secret named "${secret.name}" already exists`,
    );
    return { ...secret, hosts: [...secret.hosts], locations: [...secret.locations] };
  }

  async getSecret(orgId: string, id: string): Promise<SecretRecord | null> {
    const row = this.db.prepare('SELECT * FROM secrets WHERE org_id = ? AND id = ?').get(orgId, id) as Row | undefined;
    return row ? toSecret(row) : null;
  }

  async getSecretByName(orgId: string, name: string): Promise<SecretRecord | null> {
    const row = this.db.prepare('SELECT * FROM secrets WHERE org_id = ? AND name = ?').get(orgId, name) as Row | undefined;
    return row ? toSecret(row) : null;
  }

  async listSecrets(orgId: string): Promise<SecretRecord[]> {
    return (this.db.prepare('SELECT * FROM secrets WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[]).map(toSecret);
  }

  async pageSecrets(query: SecretPageQuery): Promise<SecretPage> {
    const column = SECRET_SORT_COLUMNS[query.sort];
    const filters = ['org_id = ?'];
    const params: unknown[] = [query.orgId];
    if (query.nameContains !== undefined && query.nameContains !== '') {
      // LIKE is case-insensitive for ASCII, which is all a valid name contains.
      filters.push("name LIKE ? ESCAPE '\\'");
      params.push(`%${escapeLikePattern(query.nameContains)}%`);
    }
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM secrets WHERE ${filters.join(' AND ')}`).get(...params) as Row).n as number;

    const direction = query.order === 'desc' ? 'DESC' : 'ASC';
    const compare = query.order === 'desc' ? '<' : '>';
    const pageFilters = [...filters];
    const pageParams = [...params];
    if (query.after) {
      // Keyset: strictly after (value, id) in the sort order; stable under concurrent inserts.
      pageFilters.push(`(${column} ${compare} ? OR (${column} = ? AND id ${compare} ?))`);
      pageParams.push(query.after.value, query.after.value, query.after.id);
    }
    const rows = this.db
      .prepare(`SELECT * FROM secrets WHERE ${pageFilters.join(' AND ')} ORDER BY ${column} ${direction}, id ${direction} LIMIT ?`)
      .all(...pageParams, query.limit) as Row[];
    return { items: rows.map(toSecret), total };
  }

  async updateSecret(orgId: string, id: string, patch: SecretPatch): Promise<SecretRecord | null> {
    const sets: string[] = ['updated_at = ?'];
    const params: unknown[] = [patch.updatedAt.getTime()];
    if (patch.name !== undefined) (sets.push('name = ?'), params.push(patch.name));
    if (patch.description !== undefined) (sets.push('description = ?'), params.push(patch.description));
    if (patch.hosts !== undefined) (sets.push('hosts = ?'), params.push(JSON.stringify(patch.hosts)));
    if (patch.locations !== undefined) (sets.push('locations = ?'), params.push(JSON.stringify(patch.locations)));
    if (patch.encryptedValue !== undefined) (sets.push('encrypted_value = ?'), params.push(patch.encryptedValue));
    const result = mapConflict(
      () => this.db.prepare(`UPDATE secrets SET ${sets.join(', ')} WHERE org_id = ? AND id = ?`).run(...params, orgId, id),
      () => `a secret named "${patch.name ?? ''}" already exists`,
    );
    if (result.changes === 0) return null;
    return this.getSecret(orgId, id);
  }

  async deleteSecret(orgId: string, id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM secrets WHERE org_id = ? AND id = ?').run(orgId, id).changes > 0;
  }

  // --- sandboxes --------------------------------------------------------------------------

  private mountsOf(sandboxId: string): SandboxMountRecord[] {
    return (this.db.prepare('SELECT env, secret_id FROM sandbox_mounts WHERE sandbox_id = ? ORDER BY position').all(sandboxId) as Row[]).map(
      (row) => ({ env: row.env as string, secretId: row.secret_id as string }),
    );
  }

  private toSandbox(row: Row): SandboxRecord {
    return {
      id: row.id as string,
      orgId: row.org_id as string,
      name: row.name as string,
      mounts: this.mountsOf(row.id as string),
      proxyTokenHash: row.proxy_token_hash as string,
      createdAt: new Date(row.created_at as number),
      updatedAt: new Date(row.updated_at as number),
    };
  }

  /** Only secrets of the sandbox's own org can be mounted; anything else fails the transaction. */
  private insertMounts(orgId: string, sandboxId: string, mounts: SandboxMountRecord[]): void {
    const insert = this.db.prepare(
      'INSERT INTO sandbox_mounts (sandbox_id, env, secret_id, position) SELECT ?, ?, id, ? FROM secrets WHERE id = ? AND org_id = ?',
    );
    mounts.forEach((mount, position) => {
      if (insert.run(sandboxId, mount.env, position, mount.secretId, orgId).changes === 0) {
        throw new ConflictError('a referenced record no longer exists');
      }
    });
  }

  async createSandbox(sandbox: SandboxRecord): Promise<SandboxRecord> {
    const create = this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO sandboxes (id, org_id, name, proxy_token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(sandbox.id, sandbox.orgId, sandbox.name, sandbox.proxyTokenHash, sandbox.createdAt.getTime(), sandbox.updatedAt.getTime());
      this.insertMounts(sandbox.orgId, sandbox.id, sandbox.mounts);
    });
    mapConflict(
      () => create.immediate(),
      (error) =>
        String((error as Error).message).includes('sandbox_mounts')
          ? 'an environment variable is mounted twice'
          : `a sandbox named "${sandbox.name}" already exists`,
    );
    return { ...sandbox, mounts: sandbox.mounts.map((mount) => ({ ...mount })) };
  }

  async getSandbox(orgId: string, id: string): Promise<SandboxRecord | null> {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE org_id = ? AND id = ?').get(orgId, id) as Row | undefined;
    return row ? this.toSandbox(row) : null;
  }

  async getSandboxById(id: string): Promise<SandboxRecord | null> {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE id = ?').get(id) as Row | undefined;
    return row ? this.toSandbox(row) : null;
  }

  async getSandboxByName(orgId: string, name: string): Promise<SandboxRecord | null> {
    const row = this.db.prepare('SELECT * FROM sandboxes WHERE org_id = ? AND name = ?').get(orgId, name) as Row | undefined;
    return row ? this.toSandbox(row) : null;
  }

  async listSandboxes(orgId: string): Promise<SandboxRecord[]> {
    return (this.db.prepare('SELECT * FROM sandboxes WHERE org_id = ? ORDER BY created_at, id').all(orgId) as Row[]).map((row) =>
      this.toSandbox(row),
    );
  }

  async replaceSandboxMounts(orgId: string, id: string, mounts: SandboxMountRecord[], updatedAt: Date): Promise<SandboxRecord | null> {
    const replace = this.db.transaction((): boolean => {
      const changed = this.db.prepare('UPDATE sandboxes SET updated_at = ? WHERE org_id = ? AND id = ?').run(updatedAt.getTime(), orgId, id).changes;
      if (changed === 0) return false;
      this.db.prepare('DELETE FROM sandbox_mounts WHERE sandbox_id = ?').run(id);
      this.insertMounts(orgId, id, mounts);
      return true;
    });
    const found = mapConflict(
      () => replace.immediate(),
      () => 'an environment variable is mounted twice',
    );
    return found ? this.getSandbox(orgId, id) : null;
  }

  async deleteSandbox(orgId: string, id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM sandboxes WHERE org_id = ? AND id = ?').run(orgId, id).changes > 0;
  }
}

/** Opens (creating if needed) and migrates a SQLite database file. */
export async function openSqliteRepository(file: string): Promise<Repository> {
  const repository = new SqliteRepository(file);
  try {
    await repository.migrate();
  } catch (error) {
    await repository.close();
    throw error;
  }
  return repository;
}
