import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateMasterKey, MasterKeyError } from '../../src/crypto/master-key.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'veil-mk-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe('loadOrCreateMasterKey', () => {
  it('creates <dataDir>/master.key (0600) in a new 0700 dataDir and reuses it', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = await loadOrCreateMasterKey({ dataDir });
    expect(first.created).toBe(true);
    expect(first.key).toHaveLength(32);
    expect((await fs.stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateMasterKey({ dataDir });
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('concurrent first starts agree on one key', async () => {
    const dataDir = await tempDir();
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKey({ dataDir })));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    for (const result of results) expect(result.key.equals(results[0]!.key)).toBe(true);
    const leftovers = (await fs.readdir(dataDir)).filter((name) => name.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });

  it('prefers VEIL_MASTER_KEY (base64 or base64url) and writes no file', async () => {
    const dataDir = await tempDir();
    const raw = randomBytes(32);
    const fromEnv = await loadOrCreateMasterKey({ env: raw.toString('base64'), dataDir });
    expect(fromEnv.source).toBe('env');
    expect(fromEnv.key.equals(raw)).toBe(true);
    expect((await loadOrCreateMasterKey({ env: raw.toString('base64url'), dataDir })).key.equals(raw)).toBe(true);
    await expect(fs.access(join(dataDir, 'master.key'))).rejects.toThrow();
  });

  it('rejects a malformed VEIL_MASTER_KEY without echoing it', async () => {
    const dataDir = await tempDir();
    const candidates = [randomBytes(16).toString('base64'), 'not base64 at all! secret-ish-text', randomBytes(33).toString('base64')];
    for (const env of candidates) {
      const error = await loadOrCreateMasterKey({ env, dataDir }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MasterKeyError);
      expect((error as Error).message).toMatch(/VEIL_MASTER_KEY/);
      expect((error as Error).message).not.toContain(env);
      expect((error as Error).message).not.toContain(env.slice(0, 12));
    }
  });

  it('rejects a corrupt key file', async () => {
    const dataDir = await tempDir();
    await fs.writeFile(join(dataDir, 'master.key'), 'short', { mode: 0o600 });
    await expect(loadOrCreateMasterKey({ dataDir })).rejects.toThrow(MasterKeyError);
  });
});
