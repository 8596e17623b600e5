/**
 * The api key expiry migration on a store written before it (SQLite 3, PostgreSQL 2): existing
 * keys keep working and read back as never expiring; new keys store an expiry.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresRepository } from '../../src/store/postgres.js';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { openSqliteRepository } from '../../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import type { Repository } from '../../src/store/types.js';
import { msDate } from './fixtures.js';
import { TEST_DATABASE_URL, adminQuery, dropSchema, randomSchemaName } from './pg-test-db.js';

const orgId = randomUUID();
const oldKeyId = randomUUID();

async function checkUpgraded(repo: Repository): Promise<void> {
  const old = await repo.getApiKey(oldKeyId);
  expect(old).toMatchObject({ id: oldKeyId, orgId, scopes: ['secrets:read'], expiresAt: null });
  const fresh = { id: randomUUID(), orgId, name: 'new', secretHash: 'e'.repeat(64), scopes: ['admin' as const], sandboxId: null, createdAt: msDate(), expiresAt: msDate(3_600_123) };
  await repo.createApiKey(fresh);
  expect(await repo.getApiKey(fresh.id)).toEqual(fresh);
}

describe('api key expiry migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'veil-migrate-'));
  const schema = randomSchemaName('veil_expiry');
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  it('SQLite: a database at version 2 upgrades; its keys never expire', async () => {
    const file = join(dir, 'veil.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(migration.version, migration.description, Date.now());
    }
    db.prepare('INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)').run(orgId, 'old-org', Date.now());
    db.prepare('INSERT INTO api_keys (id, org_id, name, secret_hash, scopes, sandbox_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(oldKeyId, orgId, 'old', 'd'.repeat(64), '["secrets:read"]', null, Date.now());
    db.close();
    const repo = await openSqliteRepository(file);
    try {
      await checkUpgraded(repo);
    } finally {
      await repo.close();
    }
  });

  it('PostgreSQL: a schema at version 1 upgrades; its keys never expire', async () => {
    await adminQuery(`CREATE SCHEMA "${schema}"`);
    const v1 = PG_MIGRATIONS.find((m) => m.version === 1)!;
    await adminQuery(`SET search_path TO "${schema}"; ${v1.sql}
      CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO schema_migrations (version, name) VALUES (1, 'initial schema');
      INSERT INTO orgs (id, name, created_at) VALUES ('${orgId}', 'old-org', now());
      INSERT INTO api_keys (id, org_id, name, secret_hash, scopes, sandbox_id, created_at) VALUES ('${oldKeyId}', '${orgId}', 'old', '${'d'.repeat(64)}', '{secrets:read}', NULL, now());`);
    const repo = await openPostgresRepository(TEST_DATABASE_URL, { schema, poolSize: 2 });
    try {
      await checkUpgraded(repo);
    } finally {
      await repo.close();
    }
  });
});
