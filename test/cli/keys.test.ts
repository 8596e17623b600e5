/**
 * `veil keys create --expires-in`, `veil keys list [--org] [--json]` and `veil keys revoke <id>`:
 * the built CLI as child processes against a real `veil serve`, over the API and directly on the
 * data directory; what a key can still do is checked with plain fetch.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliResult, type RunCliOptions } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let server: ServeProcess;

function veil(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runCli(args, { ...options, env: { VEIL_API_URL: server.apiUrl, VEIL_API_KEY: server.adminApiKey, ...options.env } });
}

function ok(result: CliResult): CliResult {
  expect(result.code, result.stderr).toBe(0);
  return result;
}

/** The HTTP status and message a key gets on GET /secret. */
async function probe(key: string): Promise<{ status: number; message?: string }> {
  const response = await fetch(`${server.apiUrl}/secret`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await response.json()) as { message?: string };
  return { status: response.status, ...(response.ok ? {} : { message: body.message }) };
}

interface KeyInfo {
  id: string;
  orgId: string;
  name: string | null;
  expiresAt: string | null;
}

async function listed(args: string[] = [], options: RunCliOptions = {}): Promise<KeyInfo[]> {
  return JSON.parse(ok(await veil(['keys', 'list', '--json', ...args], options)).stdout) as KeyInfo[];
}

beforeAll(async () => {
  server = await startServeProcess();
  ok(await veil(['orgs', 'create', 'cli-acme']));
});
afterAll(async () => server?.stop());

describe('veil keys', () => {
  it('create --expires-in 30d: expiresAt in the JSON reply and in keys list', async () => {
    const before = Date.now();
    const created = JSON.parse(ok(await veil(['keys', 'create', '--org', 'default', '--scopes', 'secrets:read', '--name', 'month', '--expires-in', '30d', '--json'])).stdout);
    const expiresAt = Date.parse(created.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    expect((await probe(created.key)).status).toBe(200);

    const entry = (await listed()).find((key) => key.id === created.id);
    expect(entry).toMatchObject({ name: 'month', expiresAt: created.expiresAt });
    const table = ok(await veil(['keys', 'list'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^ID\s+ORG\s+NAME\s+SCOPES\s+SANDBOX\s+CREATED\s+EXPIRES$/);
    expect(table).toContain(created.expiresAt);
    expect(table).not.toContain(created.key);
  });

  it('--expires-in with a bad duration is a usage error (exit 2) and creates nothing', async () => {
    const count = (await listed()).length;
    for (const bad of ['30x', '30', '-1d', '1.5h', '']) {
      const result = await veil(['keys', 'create', '--org', 'default', '--scopes', 'secrets:read', '--expires-in', bad]);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toContain('--expires-in');
      expect(result.stdout).toBe('');
    }
    expect((await listed()).length).toBe(count);
  });

  it('a key created with --expires-in 1s gets 401 saying it expired', async () => {
    const key = ok(await veil(['keys', 'create', '--org', 'default', '--scopes', 'secrets:read', '--expires-in', '1s'])).stdout.trim().split('\n').at(-1)!;
    await eventually(async () => (await probe(key)).status === 401, 'the key to expire', 30_000);
    expect((await probe(key)).message).toMatch(/^this API key expired at /);
  });

  it('the instance admin lists every org, --org narrows it, and revoke works across orgs', async () => {
    const acmeKey = JSON.parse(ok(await veil(['keys', 'create', '--org', 'cli-acme', '--scopes', 'secrets:read', '--json'])).stdout);
    const all = await listed();
    expect(new Set(all.map((key) => key.orgId)).size).toBeGreaterThanOrEqual(2);
    const acmeOnly = await listed(['--org', 'cli-acme']);
    expect(acmeOnly.map((key) => key.id)).toEqual([acmeKey.id]);

    expect((await probe(acmeKey.key)).status).toBe(200);
    const revoked = ok(await veil(['keys', 'revoke', acmeKey.id]));
    expect(revoked.stderr).toContain(`revoked API key ${acmeKey.id}`);
    expect((await probe(acmeKey.key)).status).toBe(401);
    expect(await listed(['--org', 'cli-acme'])).toEqual([]);

    const again = await veil(['keys', 'revoke', acmeKey.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not found');
    expect((await veil(['keys', 'revoke'])).code).toBe(2);
  });

  it('list and revoke work directly on the data directory while the server runs', async () => {
    const direct = { env: { VEIL_API_URL: undefined, VEIL_API_KEY: undefined, VEIL_DATA_DIR: server.dataDir } };
    const created = JSON.parse(ok(await runCli(['keys', 'create', '--org', 'cli-acme', '--scopes', 'secrets:read', '--expires-in', '12h', '--json'], direct)).stdout);
    expect(created.expiresAt).toEqual(expect.any(String));
    const local = JSON.parse(ok(await runCli(['keys', 'list', '--json'], direct)).stdout) as KeyInfo[];
    expect(local.find((key) => key.id === created.id)?.expiresAt).toBe(created.expiresAt);
    expect(new Set(local.map((key) => key.orgId)).size).toBeGreaterThanOrEqual(2);

    expect((await probe(created.key)).status).toBe(200);
    ok(await runCli(['keys', 'revoke', created.id], direct));
    expect((await probe(created.key)).status).toBe(401);
  });
});
