/** First start, restart and concurrent start of the control plane on one data dir. */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openControlPlane, type ControlPlane } from '../../src/api/index.js';
import { openRepository } from '../../src/app/repository.js';
import { createLogger } from '../../src/log/logger.js';
import { ADMIN_SCOPES, bootstrap } from '../../src/service/index.js';
import { openSqliteRepository } from '../../src/store/sqlite.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veil-boot-'));
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const silent = createLogger({ level: 'silent' });

async function open(dataDir: string, extra: { adminApiKeyEnv?: string; masterKeyEnv?: string } = {}): Promise<ControlPlane> {
  const repository = await openRepository({ dataDir, databaseUrl: undefined });
  cleanup.push(() => repository.close());
  const cp = await openControlPlane({ dataDir, logger: silent, repository, ...extra });
  cleanup.push(() => cp.close());
  return cp;
}

describe('bootstrap', () => {
  it('first start creates the default org and a generated admin key file (0600); later starts do not', async () => {
    const dataDir = await tempDir();
    const first = await open(dataDir);
    expect(first.bootstrap.adminKeySource).toBe('generated');
    const key = first.bootstrap.generatedAdminApiKey!;
    expect(key).toMatch(/^veil_key_/);
    const file = join(dataDir, 'admin-api-key');
    expect((await fs.readFile(file, 'utf8')).trim()).toBe(key);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(join(dataDir, 'veil.db'))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(dataDir)).mode & 0o777).toBe(0o700);
    const record = await first.services.apiKeys.authenticate(key);
    expect(record!.scopes).toEqual(ADMIN_SCOPES);
    expect(record!.scopes).not.toContain('proxy:resolve');
    await first.close();

    const second = await open(dataDir);
    expect(second.bootstrap.adminKeySource).toBe('existing');
    expect(second.bootstrap.generatedAdminApiKey).toBeNull();
    expect(second.bootstrap.defaultOrg.id).toBe(first.bootstrap.defaultOrg.id);
    expect(await second.services.apiKeys.authenticate(key)).not.toBeNull();
    expect((await second.repository.listOrgs()).map((org) => org.name)).toEqual(['default']);
    expect(await second.repository.listApiKeys(second.bootstrap.defaultOrg.id)).toHaveLength(1);
  });

  it('generates a new admin key only when the default org has no admin key left', async () => {
    const dataDir = await tempDir();
    const first = await open(dataDir);
    const bootstrapKey = first.bootstrap.generatedAdminApiKey!;
    const orgId = first.bootstrap.defaultOrg.id;
    const replacement = await first.services.apiKeys.issue(orgId, ['admin'], 'second admin', null);
    await first.services.apiKeys.revoke((await first.services.apiKeys.authenticate(bootstrapKey))!.id, orgId);
    await first.close();

    const second = await open(dataDir);
    expect(second.bootstrap.adminKeySource).toBe('existing');
    expect(await second.services.apiKeys.authenticate(bootstrapKey)).toBeNull(); // stays revoked
    expect(await second.services.apiKeys.authenticate(replacement.key)).not.toBeNull();
    await second.services.apiKeys.revoke(replacement.id, orgId);
    await second.close();

    const third = await open(dataDir);
    expect(third.bootstrap.adminKeySource).toBe('generated');
    const fresh = third.bootstrap.generatedAdminApiKey!;
    expect(fresh).not.toBe(bootstrapKey);
    expect((await fs.readFile(join(dataDir, 'admin-api-key'), 'utf8')).trim()).toBe(fresh);
    expect(await third.services.apiKeys.authenticate(fresh)).not.toBeNull();
  });

  it('VEIL_ADMIN_API_KEY is stored as a hash, works as a bearer key, and is idempotent', async () => {
    const dataDir = await tempDir();
    const adminKey = 'operator-chosen-admin-key-0123456789abcdef';
    const cp = await open(dataDir, { adminApiKeyEnv: adminKey });
    expect(cp.bootstrap.adminKeySource).toBe('env');
    await expect(fs.access(join(dataDir, 'admin-api-key'))).rejects.toThrow();
    expect((await cp.services.apiKeys.authenticate(adminKey))!.scopes).toEqual(ADMIN_SCOPES);
    expect(await cp.services.apiKeys.authenticate(`${adminKey}x`)).toBeNull();
    const stored = await cp.repository.listApiKeys(cp.bootstrap.defaultOrg.id);
    expect(JSON.stringify(stored)).not.toContain(adminKey);
    await cp.close();
    const again = await open(dataDir, { adminApiKeyEnv: adminKey });
    expect(await again.repository.listApiKeys(again.bootstrap.defaultOrg.id)).toHaveLength(1);
  });

  it('refuses a short VEIL_ADMIN_API_KEY without echoing it', async () => {
    const dataDir = await tempDir();
    const repository = await openRepository({ dataDir, databaseUrl: undefined });
    cleanup.push(() => repository.close());
    const error = await openControlPlane({ dataDir, logger: silent, repository, adminApiKeyEnv: 'too-short-secret' }).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/VEIL_ADMIN_API_KEY must be at least 32 characters/);
    expect((error as Error).message).not.toContain('too-short-secret');
  });

  it('two processes starting at once on one database agree: one org, one admin key, one master key', async () => {
    const dataDir = await tempDir();
    const starts = await Promise.all(Array.from({ length: 4 }, () => open(dataDir)));
    const generated = starts.filter((cp) => cp.bootstrap.generatedAdminApiKey !== null);
    expect(generated).toHaveLength(1);
    const orgIds = new Set(starts.map((cp) => cp.bootstrap.defaultOrg.id));
    expect(orgIds.size).toBe(1);
    for (const cp of starts) expect(cp.masterKey.key.equals(starts[0]!.masterKey.key)).toBe(true);
    const key = generated[0]!.bootstrap.generatedAdminApiKey!;
    for (const cp of starts) expect(await cp.services.apiKeys.authenticate(key)).not.toBeNull();
    expect((await fs.readFile(join(dataDir, 'admin-api-key'), 'utf8')).trim()).toBe(key);
    expect(await starts[0]!.repository.listOrgs()).toHaveLength(1);
  });

  it('bootstrap() on separate repository connections to one file races safely', async () => {
    const dataDir = await tempDir();
    const repos = await Promise.all(Array.from({ length: 3 }, () => openSqliteRepository(join(dataDir, 'veil.db'))));
    for (const repo of repos) cleanup.push(() => repo.close());
    const results = await Promise.all(repos.map((repo) => bootstrap({ repo, dataDir })));
    expect(results.filter((result) => result.adminKeySource === 'generated')).toHaveLength(1);
    expect(new Set(results.map((result) => result.defaultOrg.id)).size).toBe(1);
  });
});
