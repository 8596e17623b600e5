import pg from 'pg';
import type {
  ApiKeyRecord,
  OrgRecord,
  Repository,
  SandboxMountRecord,
  SandboxRecord,
  SecretPage,
  SecretPageQuery,
  SecretPatch,
  SecretRecord,
} from './types.js';
import { ConflictError } from '../errors.js';
import { applyPgMigrations, SCHEMA_NAME_PATTERN } from './pg/migrations.js';
import { buildSecretPageStatement } from './pg/paging.js';
import { translatePgError } from './pg/errors.js';
import {
  API_KEY_COLUMNS,
  SANDBOX_COLUMNS,
  SECRET_COLUMNS,
  apiKeyFromRow,
  orgFromRow,
  sandboxFromRow,
  secretFromRow,
  type ApiKeyRow,
  type MountRow,
  type OrgRow,
  type SandboxRow,
  type SecretRow,
} from './pg/rows.js';

export interface PostgresRepositoryOptions {
  /** Schema for all tables (created by migrate()); default: the connection's search_path (public). */
  schema?: string;
  /** Maximum pool connections per process. */
  poolSize?: number;
}

const DEFAULT_POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL text cannot hold NUL, and a query parameter containing one fails with an encoding
 * error. No stored key can contain NUL, so lookups with one (e.g. an untrusted sandbox id from a
 * proxy's Basic auth) simply find nothing, as they do in SQLite.
 */
function containsNul(...texts: string[]): boolean {
  return texts.some((text) => text.includes('\u0000'));
}

/**
 * Opens a pool and applies pending migrations (like openSqliteRepository). Safe for several
 * replicas to do at the same time: migrations serialize on an advisory lock.
 */
export async function openPostgresRepository(url: string, options: PostgresRepositoryOptions = {}): Promise<Repository> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME_PATTERN.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name: ${JSON.stringify(schema)}`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    // Fail a request instead of hanging forever when the database is unreachable or saturated.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    // search_path per connection, so every pooled client sees the same schema without a SET race.
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client whose backend dies emits 'error' on the pool; without a listener that crashes
  // the process. The pool discards the client and the next query opens a fresh connection.
  pool.on('error', () => undefined);
  const repository = new PostgresRepository(pool, schema);
  try {
    await repository.migrate();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return repository;
}

class PostgresRepository implements Repository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
  ) {}

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await applyPgMigrations(client, this.schema);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // ---- orgs

  async createOrg(org: OrgRecord): Promise<OrgRecord> {
    const row = await this.one<OrgRow>(
      'INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3) RETURNING id, name, created_at',
      [org.id, org.name, org.createdAt],
      org.name,
    );
    return orgFromRow(row!);
  }

  async getOrg(id: string): Promise<OrgRecord | null> {
    if (containsNul(id)) return null;
    const row = await this.one<OrgRow>('SELECT id, name, created_at FROM orgs WHERE id = $1', [id]);
    return row ? orgFromRow(row) : null;
  }

  async getOrgByName(name: string): Promise<OrgRecord | null> {
    if (containsNul(name)) return null;
    const row = await this.one<OrgRow>('SELECT id, name, created_at FROM orgs WHERE name = $1', [name]);
    return row ? orgFromRow(row) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    const result = await this.pool.query<OrgRow>('SELECT id, name, created_at FROM orgs ORDER BY created_at, id');
    return result.rows.map(orgFromRow);
  }

  // ---- api keys

  async createApiKey(key: ApiKeyRecord): Promise<ApiKeyRecord> {
    const row = await this.one<ApiKeyRow>(
      `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${API_KEY_COLUMNS}`,
      [key.id, key.orgId, key.name, key.secretHash, key.scopes, key.sandboxId, key.createdAt, key.expiresAt],
    );
    return apiKeyFromRow(row!);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    if (containsNul(id)) return null;
    const row = await this.one<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return row ? apiKeyFromRow(row) : null;
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    if (containsNul(orgId)) return [];
    const result = await this.pool.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id`,
      [orgId],
    );
    return result.rows.map(apiKeyFromRow);
  }

  async deleteApiKey(orgId: string, id: string): Promise<boolean> {
    if (containsNul(orgId, id)) return false;
    const result = await this.pool.query('DELETE FROM api_keys WHERE org_id = $1 AND id = $2', [orgId, id]);
    return (result.rowCount ?? 0) > 0;
  }

  // ---- secrets

  async createSecret(secret: SecretRecord): Promise<SecretRecord> {
    const row = await this.one<SecretRow>(
      `INSERT INTO secrets (${SECRET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${SECRET_COLUMNS}`,
      [
        secret.id,
        secret.orgId,
        secret.name,
        secret.description,
        secret.placeholder,
        secret.hosts,
        secret.locations,
        secret.encryptedValue,
        secret.createdAt,
        secret.updatedAt,
      ],
      secret.name,
    );
    return secretFromRow(row!);
  }

  async getSecret(orgId: string, id: string): Promise<SecretRecord | null> {
    if (containsNul(orgId, id)) return null;
    const row = await this.one<SecretRow>(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE org_id = $1 AND id = $2`, [orgId, id]);
    return row ? secretFromRow(row) : null;
  }

  async getSecretByName(orgId: string, name: string): Promise<SecretRecord | null> {
    if (containsNul(orgId, name)) return null;
    const row = await this.one<SecretRow>(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE org_id = $1 AND name = $2`, [orgId, name]);
    return row ? secretFromRow(row) : null;
  }

  async listSecrets(orgId: string): Promise<SecretRecord[]> {
    if (containsNul(orgId)) return [];
    const result = await this.pool.query<SecretRow>(
      `SELECT ${SECRET_COLUMNS} FROM secrets WHERE org_id = $1 ORDER BY created_at, id`,
      [orgId],
    );
    return result.rows.map(secretFromRow);
  }

  async pageSecrets(query: SecretPageQuery): Promise<SecretPage> {
    // A NUL in the filter can match no stored name; one in the cursor id sorts nowhere useful.
    if (containsNul(query.orgId, query.nameContains ?? '')) return { items: [], total: 0 };
    const statement = buildSecretPageStatement(query);
    const result = await this.pool.query<SecretRow & { total: number }>(statement.text, statement.values);
    const first = result.rows[0];
    // The LEFT JOIN yields one all-NULL page row when the page is empty; its id is NULL.
    const items = result.rows.filter((row) => row.id !== null).map(secretFromRow);
    return { items, total: first?.total ?? 0 };
  }

  async updateSecret(orgId: string, id: string, patch: SecretPatch): Promise<SecretRecord | null> {
    if (containsNul(orgId, id)) return null;
    // Only the fields present in the patch are assigned; undefined means "leave as is".
    const assignments: string[] = [];
    const values: unknown[] = [orgId, id];
    const assign = (column: string, value: unknown): void => {
      values.push(value);
      assignments.push(`${column} = $${values.length}`);
    };
    if (patch.name !== undefined) assign('name', patch.name);
    if (patch.description !== undefined) assign('description', patch.description);
    if (patch.hosts !== undefined) assign('hosts', patch.hosts);
    if (patch.locations !== undefined) assign('locations', patch.locations);
    if (patch.encryptedValue !== undefined) assign('encrypted_value', patch.encryptedValue);
    assign('updated_at', patch.updatedAt);
    const row = await this.one<SecretRow>(
      `UPDATE secrets SET ${assignments.join(', ')} WHERE org_id = $1 AND id = $2 RETURNING ${SECRET_COLUMNS}`,
      values,
      patch.name,
    );
    return row ? secretFromRow(row) : null;
  }

  async deleteSecret(orgId: string, id: string): Promise<boolean> {
    if (containsNul(orgId, id)) return false;
    // Mounts referencing the secret go with it (ON DELETE CASCADE).
    const result = await this.pool.query('DELETE FROM secrets WHERE org_id = $1 AND id = $2', [orgId, id]);
    return (result.rowCount ?? 0) > 0;
  }

  // ---- sandboxes

  async createSandbox(sandbox: SandboxRecord): Promise<SandboxRecord> {
    return this.transaction(async (client) => {
      const inserted = await client.query<SandboxRow>(
        `INSERT INTO sandboxes (${SANDBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${SANDBOX_COLUMNS}`,
        [sandbox.id, sandbox.orgId, sandbox.name, sandbox.proxyTokenHash, sandbox.createdAt, sandbox.updatedAt],
      );
      await insertMounts(client, sandbox.orgId, sandbox.id, sandbox.mounts);
      return sandboxFromRow(inserted.rows[0]!, await loadMounts(client, sandbox.id));
    }, sandbox.name);
  }

  async getSandbox(orgId: string, id: string): Promise<SandboxRecord | null> {
    if (containsNul(orgId, id)) return null;
    return this.loadSandbox('org_id = $1 AND id = $2', [orgId, id]);
  }

  async getSandboxById(id: string): Promise<SandboxRecord | null> {
    if (containsNul(id)) return null;
    return this.loadSandbox('id = $1', [id]);
  }

  async getSandboxByName(orgId: string, name: string): Promise<SandboxRecord | null> {
    if (containsNul(orgId, name)) return null;
    return this.loadSandbox('org_id = $1 AND name = $2', [orgId, name]);
  }

  async listSandboxes(orgId: string): Promise<SandboxRecord[]> {
    if (containsNul(orgId)) return [];
    const sandboxes = await this.pool.query<SandboxRow>(
      `SELECT ${SANDBOX_COLUMNS} FROM sandboxes WHERE org_id = $1 ORDER BY created_at, id`,
      [orgId],
    );
    const mounts = await this.pool.query<MountRow>(
      `SELECT m.sandbox_id, m.env, m.secret_id FROM sandbox_mounts m JOIN sandboxes s ON s.id = m.sandbox_id
       WHERE s.org_id = $1 ORDER BY m.sandbox_id, m.position`,
      [orgId],
    );
    const bySandbox = new Map<string, SandboxMountRecord[]>();
    for (const mount of mounts.rows) {
      const list = bySandbox.get(mount.sandbox_id) ?? [];
      list.push({ env: mount.env, secretId: mount.secret_id });
      bySandbox.set(mount.sandbox_id, list);
    }
    return sandboxes.rows.map((row) => sandboxFromRow(row, bySandbox.get(row.id) ?? []));
  }

  async replaceSandboxMounts(
    orgId: string,
    id: string,
    mounts: SandboxMountRecord[],
    updatedAt: Date,
  ): Promise<SandboxRecord | null> {
    if (containsNul(orgId, id)) return null;
    return this.transaction(async (client) => {
      // The UPDATE row-locks the sandbox, so concurrent replacements of one sandbox serialize.
      const updated = await client.query<SandboxRow>(
        `UPDATE sandboxes SET updated_at = $3 WHERE org_id = $1 AND id = $2 RETURNING ${SANDBOX_COLUMNS}`,
        [orgId, id, updatedAt],
      );
      const row = updated.rows[0];
      if (!row) return null;
      await client.query('DELETE FROM sandbox_mounts WHERE sandbox_id = $1', [id]);
      await insertMounts(client, orgId, id, mounts);
      return sandboxFromRow(row, await loadMounts(client, id));
    });
  }

  async deleteSandbox(orgId: string, id: string): Promise<boolean> {
    if (containsNul(orgId, id)) return false;
    const result = await this.pool.query('DELETE FROM sandboxes WHERE org_id = $1 AND id = $2', [orgId, id]);
    return (result.rowCount ?? 0) > 0;
  }

  // ---- helpers

  private async loadSandbox(where: string, values: unknown[]): Promise<SandboxRecord | null> {
    const row = await this.one<SandboxRow>(`SELECT ${SANDBOX_COLUMNS} FROM sandboxes WHERE ${where}`, values);
    if (!row) return null;
    return sandboxFromRow(row, await loadMounts(this.pool, row.id));
  }

  /** First row of a single-statement query (or null), with constraint errors translated. */
  private async one<Row extends pg.QueryResultRow>(text: string, values: unknown[], name?: string): Promise<Row | null> {
    try {
      const result = await this.pool.query<Row>(text, values);
      return result.rows[0] ?? null;
    } catch (err) {
      throw translatePgError(err, name);
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, name?: string): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translatePgError(err, name);
    } finally {
      client.release();
    }
  }
}

async function loadMounts(db: pg.Pool | pg.PoolClient, sandboxId: string): Promise<SandboxMountRecord[]> {
  const result = await db.query<MountRow>(
    'SELECT sandbox_id, env, secret_id FROM sandbox_mounts WHERE sandbox_id = $1 ORDER BY position',
    [sandboxId],
  );
  return result.rows.map((row) => ({ env: row.env, secretId: row.secret_id }));
}

/**
 * Inserts mounts in the given order. Only secrets of the sandbox's own org can be mounted: the
 * join drops foreign or missing ones, and a short insert count fails the whole transaction
 * instead of silently losing a mount.
 */
async function insertMounts(client: pg.PoolClient, orgId: string, sandboxId: string, mounts: SandboxMountRecord[]): Promise<void> {
  if (mounts.length === 0) return;
  const result = await client.query(
    `INSERT INTO sandbox_mounts (sandbox_id, position, env, secret_id)
     SELECT $1, m.position, m.env, m.secret_id
     FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS m(env, secret_id, position)
     JOIN secrets s ON s.id = m.secret_id AND s.org_id = $2`,
    [sandboxId, orgId, mounts.map((m) => m.env), mounts.map((m) => m.secretId)],
  );
  if (result.rowCount !== mounts.length) {
    throw new ConflictError('a referenced record no longer exists');
  }
}
