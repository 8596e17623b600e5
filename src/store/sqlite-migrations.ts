/**
 * Versioned SQLite schema. Each migration runs once, inside the same IMMEDIATE transaction that
 * records it in `schema_migrations`, so two processes migrating at once serialize on the write
 * lock and the second one sees the work already done.
 */
export interface SqliteMigration {
  version: number;
  description: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    description: 'orgs, api keys, secrets, sandboxes, mounts',
    sql: `
      CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT,
        secret_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        sandbox_id TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX api_keys_org ON api_keys(org_id, created_at);
      CREATE TABLE secrets (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT,
        placeholder TEXT NOT NULL UNIQUE,
        hosts TEXT NOT NULL,
        locations TEXT NOT NULL DEFAULT '["header","url"]',
        encrypted_value BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (org_id, name)
      );
      CREATE INDEX secrets_org_created ON secrets(org_id, created_at, id);
      CREATE INDEX secrets_org_updated ON secrets(org_id, updated_at, id);
      CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        proxy_token_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (org_id, name)
      );
      CREATE TABLE sandbox_mounts (
        sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
        env TEXT NOT NULL,
        secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        PRIMARY KEY (sandbox_id, env)
      );
      CREATE INDEX sandbox_mounts_secret ON sandbox_mounts(secret_id);
    `,
  },
  {
    version: 2,
    description: 'change events shared by processes on one file',
    // Ids and kinds only (events/sqlite-feed.ts), never a value; pruned as it goes. AUTOINCREMENT:
    // ids never go back down after the table was emptied, so readers' "id > last seen" holds.
    sql: `
      CREATE TABLE change_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        event TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: 'api key expiry',
    // NULL: never expires (every key created before this migration).
    sql: `ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;`,
  },
];
