/** Every acknowledged write survives close + reopen of the same data dir. */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daytona, makeDataDir, raw, startHarness, statusOf, type Harness } from '../api/harness.js';

const running: Harness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const harness of running.splice(0)) await harness.close();
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function start(dataDir: string, masterKeyEnv?: string): Promise<Harness> {
  const harness = await startHarness({ dataDir, ...(masterKeyEnv ? { masterKeyEnv } : {}) });
  running.push(harness);
  return harness;
}

describe('restart', () => {
  it('keeps secrets, rotations, sandboxes, mounts, orgs, keys and deletions', async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);
    const first = await start(dataDir);
    const api = daytona(first, first.adminKey);
    const kept = (await api.secrets.createSecret({ name: 'KEPT', value: 'restart-value-1', hosts: ['k.example'] })).data;
    const gone = (await api.secrets.createSecret({ name: 'GONE', value: 'restart-value-2' })).data;
    await api.secrets.updateSecret(kept.id, { value: 'restart-value-1-rotated', description: 'rotated' });
    const sandbox = (await api.sandboxes.createSandbox({ name: 'persist', secrets: [{ K: 'KEPT' }, { G: 'GONE' }] })).data as any;
    await api.secrets.deleteSecret(gone.id);
    const doomed = (await api.sandboxes.createSandbox({ name: 'doomed' })).data as any;
    await api.sandboxes.deleteSandbox(doomed.id);
    const org = (await raw(first, 'POST', '/orgs', { body: { name: 'persisted-org' } })).json;
    const proxyKey = (await raw(first, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'] } })).json.key;
    const secretsBefore = (await api.secrets.listSecrets()).data;
    await first.close();
    running.splice(running.indexOf(first), 1);

    const second = await start(dataDir);
    expect(second.adminKey).toBe(first.adminKey);
    const api2 = daytona(second, second.adminKey);
    expect((await api2.secrets.listSecrets()).data).toEqual(secretsBefore);
    expect((await statusOf(api2.secrets.getSecret(gone.id))).status).toBe(404);
    expect(((await api2.sandboxes.getSandbox('persist')).data as any)).toMatchObject({ id: sandbox.id, secrets: [{ K: 'KEPT' }], env: { K: kept.placeholder } });
    expect((await statusOf(api2.sandboxes.getSandbox(doomed.id))).status).toBe(404);
    expect((await raw(second, 'GET', '/orgs')).json.map((entry: any) => entry.id)).toContain(org.id);
    const resolved = await daytona(second, proxyKey).sandboxes.resolveSandboxSecrets(sandbox.id);
    expect(resolved.data.map((entry) => entry.value)).toEqual(['restart-value-1-rotated']);
  });

  it('with VEIL_MASTER_KEY: the same key decrypts after restart, another key does not', async () => {
    const dataDir = await makeDataDir();
    dirs.push(dataDir);
    const masterKey = randomBytes(32).toString('base64');
    const first = await start(dataDir, masterKey);
    const api = daytona(first, first.adminKey);
    await api.secrets.createSecret({ name: 'ENVKEY', value: 'env-master-value' });
    const sandbox = (await api.sandboxes.createSandbox({ secrets: [{ E: 'ENVKEY' }] })).data as any;
    await first.close();
    running.splice(running.indexOf(first), 1);

    const same = await start(dataDir, masterKey);
    expect((await same.cp.resolver.resolve(sandbox.id))!.secrets[0]!.value).toBe('env-master-value');
    await same.close();
    running.splice(running.indexOf(same), 1);

    // A different key: startup refuses, naming the problem but no value.
    const wrongKey = randomBytes(32).toString('base64');
    const error = await start(dataDir, wrongKey).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/VEIL_MASTER_KEY does not decrypt the stored secrets \(secret "ENVKEY"/);
    expect((error as Error).message).not.toContain('env-master-value');
    expect((error as Error).message).not.toContain(wrongKey);
    // The resolver reports the same problem per secret if a key is swapped underneath it.
    const { LocalResolver } = await import('../../src/resolver/local.js');
    const repo = (await import('../../src/store/sqlite.js')).openSqliteRepository(join(dataDir, 'veil.db'));
    const opened = await repo;
    try {
      const resolveError = await new LocalResolver(opened, randomBytes(32)).resolve(sandbox.id).catch((caught: unknown) => caught);
      expect((resolveError as Error).message).toMatch(/cannot decrypt secret "ENVKEY"/);
      expect((resolveError as Error).message).not.toContain('env-master-value');
    } finally {
      await opened.close();
    }
  });
});
