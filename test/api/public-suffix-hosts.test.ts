/**
 * Host patterns that are wildcards on a public suffix (`*.com`, `*.co.uk`, `*.github.io`): the API
 * refuses them with a 400 naming the entry; a secret stored with one before this rule keeps
 * working for its other hosts, never gets its value sent for that pattern, and startup warns.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../src/app/repository.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { raw, startHarness, type Harness } from './harness.js';

describe('the API refuses public-suffix wildcards', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness?.close());

  it('POST /secret: 400 naming the entry, nothing stored', async () => {
    for (const [hosts, entry] of [
      [['*.com'], 'entry 0 ("*.com")'],
      [['api.example.com', '*.co.uk'], 'entry 1 ("*.co.uk")'],
      [['*.github.io'], 'entry 0 ("*.github.io")'],
    ] as const) {
      const reply = await raw(harness, 'POST', '/secret', { body: { name: 'PSL_TEST', value: 'psl-VALUE-1', hosts } });
      expect(reply.status, hosts.join()).toBe(400);
      expect(reply.json.message).toContain(`hosts: ${entry} is a wildcard on the public suffix`);
      expect(reply.text).not.toContain('psl-VALUE-1');
    }
    expect((await raw(harness, 'GET', '/secret')).json).toEqual([]);
  });

  it('PATCH /secret/{id}: 400, hosts unchanged; a wildcard on a registrable domain is fine', async () => {
    const created = await raw(harness, 'POST', '/secret', { body: { name: 'PSL_OK', value: 'psl-VALUE-2', hosts: ['*.octocat.github.io'] } });
    expect(created.status).toBe(201);
    const refused = await raw(harness, 'PATCH', `/secret/${created.json.id}`, { body: { hosts: ['*.github.io'] } });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toMatch(/^hosts: entry 0 \("\*\.github\.io"\)/);
    expect((await raw(harness, 'GET', `/secret/${created.json.id}`)).json.hosts).toEqual(['*.octocat.github.io']);
  });
});

describe('a secret stored with a public-suffix wildcard before the rule', () => {
  const VALUE = 'legacy-psl-VALUE-9f3a';
  const dir = makeTempDir('veil-psl-');
  let veil: ServeProcess | undefined;
  let upstream: Server;
  let upstreamPort: number;
  const seen: Array<{ host: string | undefined; key: string | undefined }> = [];
  let placeholder: string;
  let proxyAuth: string;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push({ host: req.headers.host, key: req.headers['x-key'] as string | undefined });
      res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;

    // First start: a secret with a good host and a sandbox mounting it.
    const first = await startServeProcess({ dataDir: dir.path });
    const secret = await adminApi(first, 'POST', '/secret', { name: 'LEGACY', value: VALUE, hosts: ['api.example.org'] });
    expect(secret.status).toBe(201);
    const sandbox = await adminApi(first, 'POST', '/sandbox', { name: 'legacy-box', secrets: [{ KEY: 'LEGACY' }] });
    placeholder = sandbox.json.env.KEY;
    proxyAuth = `Basic ${Buffer.from(`${sandbox.json.id}:${sandbox.json.proxyToken}`).toString('base64')}`;
    await first.stop({ keepDataDir: true });

    // What an older Veil accepted: written straight into the store.
    const repository = await openRepository({ dataDir: dir.path, databaseUrl: undefined });
    const stored = (await repository.listOrgs()).find((org) => org.name === 'default')!;
    await repository.updateSecret(stored.id, secret.json.id, { hosts: ['*.com', 'api.example.org'], updatedAt: new Date() });
    await repository.close();

    veil = await startServeProcess({
      dataDir: dir.path,
      proxy: true,
      env: { VEIL_RESOLVE: 'victim.com=127.0.0.1,api.example.org=127.0.0.1' },
    });
  }, 120_000);

  afterAll(async () => {
    await veil?.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    dir.remove();
  });

  function viaProxy(host: string): Promise<number> {
    const proxy = new URL(veil!.proxyUrl!);
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: proxy.hostname,
        port: Number(proxy.port),
        path: `http://${host}:${upstreamPort}/`,
        headers: { host: `${host}:${upstreamPort}`, 'proxy-authorization': proxyAuth, 'x-key': placeholder },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('startup warns, naming the secret and the pattern, never the value', () => {
    const warning = veil!.stdoutLines.find((line) => line.includes('"pattern":"*.com"'));
    expect(warning, veil!.stdoutLines.join('\n')).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, secret: 'LEGACY', org: 'default', pattern: '*.com' });
    expect(warning).toMatch(/public suffix/);
    expect(veil!.stdoutLines.join('\n')).not.toContain(VALUE);
  });

  it('the value is not substituted for the refused pattern; the other host still gets it', async () => {
    seen.length = 0;
    expect(await viaProxy('victim.com')).toBe(200);
    expect(await viaProxy('api.example.org')).toBe(200);
    expect(seen).toEqual([
      { host: `victim.com:${upstreamPort}`, key: placeholder },
      { host: `api.example.org:${upstreamPort}`, key: VALUE },
    ]);
  });
});
