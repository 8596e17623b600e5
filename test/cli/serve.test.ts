/** `veil serve` lifecycle: signals drain and exit 0, data survives a restart, startup errors exit 2. */
import { connect } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SandboxService, SecretService } from '../../src/client/index.js';
import { runCli } from '../helpers/cli.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// Every step spawns real processes; on a loaded 2-core machine they can be slow. Hangs still fail.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const temp = makeTempDir('veil-serve-test-');
afterAll(() => temp.remove());

/** Sends a request over a raw socket in two parts, with `between` run after the first; resolves to the raw reply. */
function twoPartRequest(apiUrl: string, head: string, body: string, between: () => Promise<void>): Promise<string> {
  const { hostname, port } = new URL(apiUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(reply));
    socket.on('connect', () => {
      socket.write(head + body.slice(0, 10));
      between().then(
        () => socket.end(body.slice(10)),
        (error: unknown) => reject(error as Error),
      );
    });
  });
}

describe('veil serve', () => {
  const dataDir = join(temp.path, 'data');
  let secretId: string;
  let adminKey: string;

  it('writes private files and prints the generated admin key once', async () => {
    const server = await startServeProcess({ dataDir });
    adminKey = server.adminApiKey;
    expect(adminKey).toMatch(/^veil_key_/);
    expect(server.stderr()).toContain(adminKey);
    expect(server.stderr()).toContain(join(dataDir, 'admin-api-key'));
    for (const file of ['admin-api-key', 'master.key']) expect(statSync(join(dataDir, file)).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // Exactly one ready line, with the URL the server really listens on.
    const readyLines = server.stdoutLines.filter((line) => line.includes('"msg":"ready"'));
    expect(readyLines).toHaveLength(1);
    expect(server.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${server.apiUrl}/health`)).json()).toEqual({ status: 'ok' });

    const secrets = new SecretService({ apiUrl: server.apiUrl, apiKey: adminKey });
    secretId = (await secrets.create({ name: 'KEEP', value: 'persisted-value-Yt6Re5', hosts: ['keep.example'] })).id;
    expect((await server.stop({ keepDataDir: true })).code).toBe(0);
  });

  it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
    const server = await startServeProcess({ dataDir });
    const body = JSON.stringify({ name: 'INFLIGHT', value: 'inflight-value-Qw3Er4', hosts: ['x.example'] });
    const head =
      `POST /secret HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${adminKey}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    let exit: Promise<{ code: number | null }> | undefined;
    const reply = await twoPartRequest(server.apiUrl, head, body, async () => {
      // Give the server the request head first, so the request is in flight when the signal lands.
      await new Promise((resolve) => setTimeout(resolve, 300));
      exit = server.stop({ keepDataDir: true });
      // Send the rest only once the server is draining, so the request is surely in flight then.
      for (let polls = 0; polls < 600 && !server.stdoutLines.some((line) => line.includes('shutting down')); polls++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(server.stdoutLines.some((line) => line.includes('shutting down'))).toBe(true);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 201 /);
    expect((await exit!).code).toBe(0);
    expect(server.stdoutLines.some((line) => line.includes('"signal":"SIGTERM"'))).toBe(true);
  });

  it('keeps data, the master key and the admin key across a restart (SIGINT exits 0 too)', async () => {
    const server = await startServeProcess({ dataDir });
    try {
      // No new admin key this time: it is not printed again.
      expect(server.stderr()).not.toContain('veil_key_');
      expect(readFileSync(join(dataDir, 'admin-api-key'), 'utf8').trim()).toBe(adminKey);
      const secrets = new SecretService({ apiUrl: server.apiUrl, apiKey: adminKey });
      expect((await secrets.get(secretId)).name).toBe('KEEP');
      expect((await secrets.get('INFLIGHT')).hosts).toEqual(['x.example']);
      // The value still decrypts with the persisted master key.
      const sandbox = await new SandboxService({ apiUrl: server.apiUrl, apiKey: adminKey }).create({ secrets: { KEEP: 'KEEP' } });
      const resolveKey = (await runCli(['keys', 'create', '--org', 'default', '--scopes', 'proxy:resolve'], { env: { VEIL_DATA_DIR: dataDir } })).stdout.trim();
      const resolved = await new SandboxService({ apiUrl: server.apiUrl, apiKey: resolveKey }).resolve(sandbox.id);
      expect(resolved.map((secret) => secret.value)).toEqual(['persisted-value-Yt6Re5']);
    } finally {
      expect((await server.stop({ signal: 'SIGINT', keepDataDir: true })).code).toBe(0);
    }
  });

  it('uses VEIL_ADMIN_API_KEY instead of generating one', async () => {
    const key = 'operator-chosen-admin-key-0123456789abcdef';
    const server = await startServeProcess({ env: { VEIL_ADMIN_API_KEY: key } });
    try {
      expect(server.stderr()).not.toContain('veil_key_');
      const orgs = await fetch(`${server.apiUrl}/orgs`, { headers: { authorization: `Bearer ${key}` } });
      expect(orgs.status).toBe(200);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });

  it('exits 2 on bad configuration and 1 when the port is taken', async () => {
    const bad = await runCli(['serve', '--data-dir', join(temp.path, 'bad'), '--api-listen', '127.0.0.1:99999', '--no-proxy']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--api-listen: expected host:port, got "127.0.0.1:99999"');
    const badEnv = await runCli(['serve', '--data-dir', join(temp.path, 'bad'), '--no-proxy'], { env: { VEIL_API_LISTEN: '127.0.0.1:0', VEIL_DISALLOWED: 'maybe' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('VEIL_DISALLOWED');
    const badMasterKey = await runCli(['serve', '--data-dir', join(temp.path, 'bad'), '--api-listen', '127.0.0.1:0', '--no-proxy'], {
      env: { VEIL_MASTER_KEY: 'dG9vIHNob3J0' },
    });
    expect(badMasterKey.code).toBe(2);
    expect(badMasterKey.stderr).toContain('VEIL_MASTER_KEY must be base64 of exactly 32 bytes');
    expect(badMasterKey.stderr).not.toContain('dG9vIHNob3J0');

    const server = await startServeProcess();
    try {
      const port = new URL(server.apiUrl).port;
      const taken = await runCli(['serve', '--data-dir', join(temp.path, 'second'), '--api-listen', `127.0.0.1:${port}`, '--no-proxy']);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('EADDRINUSE');
    } finally {
      await server.stop();
    }
  });
});
