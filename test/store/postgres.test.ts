import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError } from '../../src/errors.js';
import { openPostgresRepository } from '../../src/store/postgres.js';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import type { Repository, SecretPageQuery } from '../../src/store/types.js';
import { msDate, newOrg, newSecret, secretRecord } from './fixtures.js';
import { TEST_DATABASE_URL, adminQuery, dropSchema, randomSchemaName } from './pg-test-db.js';

/** PostgreSQL-only behaviour: several replicas (pools) sharing one database. */
describe('PostgreSQL repository with several replicas', () => {
  const schemas: string[] = [];
  const repos: Repository[] = [];

  function newSchema(): string {
    const schema = randomSchemaName('veil_pg');
    schemas.push(schema);
    return schema;
  }

  async function openReplica(schema: string): Promise<Repository> {
    const repo = await openPostgresRepository(TEST_DATABASE_URL, { schema, poolSize: 4 });
    repos.push(repo);
    return repo;
  }

  afterAll(async () => {
    await Promise.allSettled(repos.map((repo) => repo.close()));
    for (const schema of schemas) await dropSchema(schema);
  });

  it('lets replicas starting at once migrate a fresh schema exactly once', async () => {
    // Several rounds, each on a brand-new schema, so the race window is hit more than once.
    for (let round = 0; round < 3; round++) {
      const schema = newSchema();
      const replicas = await Promise.all([openReplica(schema), openReplica(schema), openReplica(schema), openReplica(schema)]);
      await Promise.all(replicas.map((repo) => repo.migrate()));
      const applied = await adminQuery(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(applied.rows.map((row) => row.version)).toEqual(PG_MIGRATIONS.map((migration) => migration.version));
      const org = await newOrg(replicas[0]!);
      expect(await replicas[3]!.getOrg(org.id)).toEqual(org);
    }
  });

  describe('on one shared schema', () => {
    let a: Repository;
    let b: Repository;

    beforeAll(async () => {
      const schema = newSchema();
      [a, b] = await Promise.all([openReplica(schema), openReplica(schema)]);
    });

    it('lets exactly one of many concurrent creates of one name succeed', async () => {
      const org = await newOrg(a);
      const attempts = Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? a : b).createSecret(secretRecord(org.id, { name: 'RACED_NAME' })),
      );
      const results = await Promise.allSettled(attempts);
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(11);
      for (const failure of rejected) expect(failure.reason).toBeInstanceOf(ConflictError);
      expect((await b.listSecrets(org.id)).map((s) => s.name)).toEqual(['RACED_NAME']);
    });

    it('lets exactly one of many concurrent org creates of one name succeed', async () => {
      const name = `raced-org-${randomUUID()}`;
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).createOrg({ id: randomUUID(), name, createdAt: msDate() })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    });

    it('pages consistently when consecutive pages come from different replicas', async () => {
      const org = await newOrg(a);
      for (let i = 0; i < 11; i++) {
        await (i % 2 === 0 ? a : b).createSecret(secretRecord(org.id, { name: `S${i}`, createdAt: msDate(Math.floor(i / 4) * 1000) }));
      }
      const base = { orgId: org.id, limit: 3, sort: 'createdAt', order: 'desc' } as const;
      const full = await a.pageSecrets({ ...base, limit: 100 });
      const ids: string[] = [];
      let after: SecretPageQuery['after'];
      for (let page = 0; page < 20; page++) {
        const result = await (page % 2 === 0 ? a : b).pageSecrets({ ...base, after });
        expect(result.total).toBe(11);
        ids.push(...result.items.map((s) => s.id));
        const last = result.items.at(-1);
        if (!last) break;
        after = { value: last.createdAt.getTime(), id: last.id };
      }
      expect(ids).toEqual(full.items.map((s) => s.id));
      expect(ids).toHaveLength(11);
    });

    it('sees a write of one replica from the other at once', async () => {
      const org = await newOrg(a);
      const secret = await newSecret(a, org.id);
      expect(await b.updateSecret(org.id, secret.id, { description: 'from b', updatedAt: msDate(1) })).not.toBeNull();
      expect((await a.getSecret(org.id, secret.id))!.description).toBe('from b');
      expect(await b.deleteSecret(org.id, secret.id)).toBe(true);
      expect(await a.getSecret(org.id, secret.id)).toBeNull();
    });
  });

  it('answers text PostgreSQL cannot store (NUL) with BadRequestError instead of a driver error', async () => {
    const repo = await openReplica(newSchema());
    const org = await newOrg(repo);
    await expect(newSecret(repo, org.id, { description: 'a\u0000b' })).rejects.toBeInstanceOf(BadRequestError);
    expect(await repo.listSecrets(org.id)).toEqual([]);
    // A NUL in the name filter cannot match any stored name (and must not raise a driver error).
    await newSecret(repo, org.id);
    expect(await repo.pageSecrets({ orgId: org.id, limit: 5, sort: 'name', order: 'asc', nameContains: '\u0000' })).toEqual({ items: [], total: 0 });
  });

  it('rejects a schema name that would need quoting', async () => {
    await expect(openPostgresRepository(TEST_DATABASE_URL, { schema: 'Bad"; DROP' })).rejects.toThrow(/schema name/);
  });

  it('fails to open when the database is unreachable', async () => {
    // Port 1 on loopback refuses connections immediately.
    await expect(openPostgresRepository('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow();
  });
});
