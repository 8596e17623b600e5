/** The exported TS client against a real `veil serve` child process. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiKeyService, OrgService, SandboxService, SecretService, VeilApiError } from '../../src/client/index.js';
import { closedPort } from '../helpers/ports.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

// Every step spawns real processes; on a loaded 2-core machine they can be slow. Hangs still fail.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let server: ServeProcess;
let secrets: SecretService;
let sandboxes: SandboxService;

beforeAll(async () => {
  server = await startServeProcess();
  secrets = new SecretService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey });
  sandboxes = new SandboxService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey });
});
afterAll(async () => {
  await server?.stop();
});

async function apiError(promise: Promise<unknown>): Promise<VeilApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VeilApiError);
    return error as VeilApiError;
  }
  throw new Error('expected a VeilApiError');
}

describe('SecretService', () => {
  it('creates, gets (by id and name), updates and deletes', async () => {
    const created = await secrets.create({ name: 'GITHUB', value: 'ghp_client-test-Vb7Nm3', hosts: ['api.github.com'], description: 'gh' });
    expect(created).toMatchObject({ name: 'GITHUB', hosts: ['api.github.com'], description: 'gh' });
    expect(created).not.toHaveProperty('value');
    expect(await secrets.get(created.id)).toEqual(created);
    expect(await secrets.get('GITHUB')).toEqual(created);

    const updated = await secrets.update('GITHUB', { hosts: ['*.github.com'], value: 'ghp_rotated-Lk8Jh7' });
    expect(updated.id).toBe(created.id);
    expect(updated.placeholder).toBe(created.placeholder);
    expect(updated.hosts).toEqual(['*.github.com']);

    await secrets.delete('GITHUB');
    const error = await apiError(secrets.get(created.id));
    expect(error.statusCode).toBe(404);
    expect(error.message).toContain('not found');
    expect((await apiError(secrets.delete(created.id))).statusCode).toBe(404);
  });

  it('pages with a cursor and filters by name', async () => {
    for (let index = 0; index < 5; index++) await secrets.create({ name: `PAGE_${index}`, value: `page-value-${index}`, hosts: ['p.example'] });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await secrets.page({ limit: 2, name: 'page_', sort: 'name', order: 'asc', ...(cursor ? { cursor } : {}) });
      expect(page.total).toBe(5);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((secret) => secret.name));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(['PAGE_0', 'PAGE_1', 'PAGE_2', 'PAGE_3', 'PAGE_4']);
    expect((await secrets.list()).filter((secret) => secret.name.startsWith('PAGE_'))).toHaveLength(5);
  });

  it('surfaces validation errors without the value', async () => {
    const value = 'must-not-echo-Cx9Vb8';
    const error = await apiError(secrets.create({ name: 'BAD_HOST', value, hosts: ['api.example.com:443'] }));
    expect(error.statusCode).toBe(400);
    expect(error.message).toContain('port');
    expect(error.message).not.toContain(value);
    expect((await apiError(secrets.create({ name: 'PAGE_0', value }))).statusCode).toBe(409);
  });

  it('reports authentication and transport failures', async () => {
    const wrongKey = new SecretService({ apiUrl: server.apiUrl, apiKey: `veil_key_${'1'.repeat(32)}_${'B'.repeat(43)}` });
    expect((await apiError(wrongKey.list())).statusCode).toBe(401);
    const nowhere = new SecretService({ apiUrl: `http://127.0.0.1:${await closedPort()}`, apiKey: server.adminApiKey });
    const error = await apiError(nowhere.list());
    expect(error.statusCode).toBe(0);
    expect(error.message).toContain('cannot reach');
    expect(error.message).toContain('ECONNREFUSED');
    expect(() => new SecretService({ apiUrl: '', apiKey: 'x' })).toThrow(TypeError);
  });
});

describe('SandboxService and admin services', () => {
  it('creates, remounts, resolves and deletes sandboxes', async () => {
    await secrets.create({ name: 'SB_A', value: 'sandbox-value-A-Df4Gh5', hosts: ['a.example'] });
    await secrets.create({ name: 'SB_B', value: 'sandbox-value-B-Jk6Lz7', hosts: ['b.example'] });
    // Plain map and Daytona's list shape are both accepted.
    const fromMap = await sandboxes.create({ name: 'client-sb', secrets: { A_KEY: 'SB_A' } });
    const fromList = await sandboxes.create({ secrets: [{ B_KEY: 'SB_B' }] });
    expect(fromMap.env.A_KEY).toMatch(/^veil_[A-Za-z0-9]{32}$/);
    expect(fromList.env.B_KEY).toMatch(/^veil_[A-Za-z0-9]{32}$/);
    expect(typeof fromMap.proxyToken).toBe('string');
    expect((await sandboxes.get(fromMap.id)).secrets).toEqual([{ A_KEY: 'SB_A' }]);
    expect((await sandboxes.list()).map((sandbox) => sandbox.id)).toEqual(expect.arrayContaining([fromMap.id, fromList.id]));

    const remounted = await sandboxes.updateSecrets('client-sb', { A_KEY: 'SB_A', B_KEY: 'SB_B' });
    expect(Object.keys(remounted.env).sort()).toEqual(['A_KEY', 'B_KEY']);

    // Resolving values needs proxy:resolve, which the admin key does not have.
    expect((await apiError(sandboxes.resolve(fromMap.id))).statusCode).toBe(403);
    const keys = new ApiKeyService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey });
    const resolver = await keys.create({ org: 'default', scopes: ['proxy:resolve'], sandboxId: fromMap.id, name: 'sidecar' });
    expect(resolver.key).toMatch(/^veil_key_/);
    const resolved = await new SandboxService({ apiUrl: server.apiUrl, apiKey: resolver.key }).resolve(fromMap.id);
    expect(Object.fromEntries(resolved.map((secret) => [secret.env, secret.value]))).toEqual({
      A_KEY: 'sandbox-value-A-Df4Gh5',
      B_KEY: 'sandbox-value-B-Jk6Lz7',
    });
    // The key is bound to one sandbox.
    expect((await apiError(new SandboxService({ apiUrl: server.apiUrl, apiKey: resolver.key }).resolve(fromList.id))).statusCode).toBe(404);

    await sandboxes.delete(fromMap.id);
    expect((await apiError(sandboxes.get(fromMap.id))).statusCode).toBe(404);
  });

  it('creates and lists orgs', async () => {
    const orgs = new OrgService({ apiUrl: server.apiUrl, apiKey: server.adminApiKey });
    const org = await orgs.create('client-org');
    expect(org.name).toBe('client-org');
    expect((await orgs.list()).map((entry) => entry.id)).toContain(org.id);
    expect((await apiError(orgs.create('client-org'))).statusCode).toBe(409);
  });
});
