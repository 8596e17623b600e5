/**
 * The API on PostgreSQL: the same service and HTTP layers over the other Repository. Covers what
 * differs per store: collation of the name sort, LIKE escaping, conflicts, isolation, bootstrap
 * races between replicas, and ciphertext-only storage.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/service/index.js';
import { openPostgresRepository } from '../../src/store/postgres.js';
import type { Repository } from '../../src/store/types.js';
import { adminQuery, dropSchema, randomSchemaName, TEST_DATABASE_URL } from '../store/pg-test-db.js';
import { daytona, makeDataDir, orgWithKey, raw, startHarness, statusOf, type Harness } from './harness.js';

const schema = randomSchemaName('veil_api');
const repositories: Repository[] = [];
let harness: Harness;

async function openRepo(): Promise<Repository> {
  const repo = await openPostgresRepository(TEST_DATABASE_URL, { schema, poolSize: 4 });
  repositories.push(repo);
  return repo;
}

beforeAll(async () => {
  harness = await startHarness({ repository: await openRepo(), masterKeyEnv: randomBytes(32).toString('base64') });
});
afterAll(async () => {
  await harness?.close();
  for (const repo of repositories) await repo.close();
  await dropSchema(schema);
});

describe('control-plane API on PostgreSQL', () => {
  it('paginates in byte order by name, with literal "_" in the filter', async () => {
    const api = daytona(harness, harness.adminKey);
    const names = ['key_01', 'key_02', 'KEYRING', 'Other', 'key_10', 'a_b', 'aXb'];
    for (const name of names) await api.secrets.createSecret({ name, value: `pg-VALUE-${name}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const { data } = await api.secrets.listSecretsPaginated(undefined, cursor, 2, undefined, 'name', 'asc');
      seen.push(...data.items.map((secret) => secret.name));
      if (!data.nextCursor) break;
      cursor = data.nextCursor;
    }
    expect(seen).toEqual([...names].sort());
    const filtered = await api.secrets.listSecretsPaginated(undefined, undefined, 100, 'A_B');
    expect(filtered.data.items.map((secret) => secret.name)).toEqual(['a_b']);
    expect(filtered.data.total).toBe(1);
  });

  it('conflicts, isolation and resolve behave as on SQLite', async () => {
    const api = daytona(harness, harness.adminKey);
    await api.secrets.createSecret({ name: 'PG_SECRET', value: 'pg-resolve-VALUE', hosts: ['pg.example'] });
    expect((await statusOf(api.secrets.createSecret({ name: 'PG_SECRET', value: 'again' }))).status).toBe(409);
    const sandbox = (await api.sandboxes.createSandbox({ name: 'pg-sb', secrets: [{ P: 'PG_SECRET' }] })).data as any;
    expect((await statusOf(api.sandboxes.updateSandboxSecrets(sandbox.id, { secrets: [{ P: 'NOPE' }] }))).status).toBe(400);

    const other = await orgWithKey(harness, 'pg-other', ['secrets:read', 'sandboxes:write', 'proxy:resolve']);
    const theirs = daytona(harness, other.key);
    expect((await statusOf(theirs.sandboxes.getSandbox(sandbox.id))).status).toBe(404);
    expect((await statusOf(theirs.sandboxes.resolveSandboxSecrets(sandbox.id))).status).toBe(404);
    expect((await theirs.secrets.listSecrets()).data).toEqual([]);

    const proxyKey = (await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'] } })).json.key;
    const resolved = await daytona(harness, proxyKey).sandboxes.resolveSandboxSecrets(sandbox.id);
    expect(resolved.data.map((entry) => entry.value)).toEqual(['pg-resolve-VALUE']);
  });

  it('stores ciphertext only', async () => {
    const rows = await adminQuery(`SELECT * FROM "${schema}".secrets`);
    expect(rows.rows.length).toBeGreaterThan(0);
    const dump = JSON.stringify(rows.rows, (_key, value) =>
      value && typeof value === 'object' && value.type === 'Buffer' ? Buffer.from(value.data).toString('latin1') : value,
    );
    expect(dump).not.toContain('pg-resolve-VALUE');
    expect(dump).not.toContain('pg-VALUE-');
  });

  it('replicas bootstrapping one schema at once generate a single admin key', async () => {
    const fresh = randomSchemaName('veil_boot');
    const repos = await Promise.all([0, 1, 2].map(() => openPostgresRepository(TEST_DATABASE_URL, { schema: fresh, poolSize: 2 })));
    const dirs = await Promise.all(repos.map(() => makeDataDir()));
    try {
      const results = await Promise.all(repos.map((repo, index) => bootstrap({ repo, dataDir: dirs[index]! })));
      expect(results.filter((result) => result.adminKeySource === 'generated')).toHaveLength(1);
      expect(new Set(results.map((result) => result.defaultOrg.id)).size).toBe(1);
      expect(await repos[0]!.listOrgs()).toHaveLength(1);
    } finally {
      for (const repo of repos) await repo.close();
      await dropSchema(fresh);
      for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
