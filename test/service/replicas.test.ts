/**
 * Two `veil serve` processes starting at the same moment on one data dir (replicas sharing a
 * SQLite file): both come up, exactly one admin key is generated, and writes through one are
 * read through the other. Needs the build (`npm test` builds first).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const started: ServeProcess[] = [];
const temp = makeTempDir('veil-replicas-');
afterAll(async () => {
  for (const server of started) await server.stop({ keepDataDir: true });
  temp.remove();
});

async function call(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

describe('replicas on one data dir', () => {
  it('start concurrently, share one bootstrap and see each other\'s writes', async () => {
    const [a, b] = await Promise.all([startServeProcess({ dataDir: temp.path }), startServeProcess({ dataDir: temp.path })]);
    started.push(a!, b!);
    const key = readFileSync(join(temp.path, 'admin-api-key'), 'utf8').trim();
    expect(key).toMatch(/^veil_key_/);
    const orgsA = await call(a!.apiUrl, key, 'GET', '/orgs');
    const orgsB = await call(b!.apiUrl, key, 'GET', '/orgs');
    expect(orgsA.status).toBe(200);
    expect(orgsA.json).toEqual(orgsB.json);
    expect(orgsA.json.map((org: any) => org.name)).toEqual(['default']);
    expect((await call(a!.apiUrl, key, 'GET', '/api-keys')).json).toHaveLength(1);

    const created = await call(a!.apiUrl, key, 'POST', '/secret', { name: 'REPLICATED', value: 'replica-value-1', hosts: ['r.example'] });
    expect(created.status).toBe(201);
    expect((await call(b!.apiUrl, key, 'GET', `/secret/${created.json.id}`)).json).toEqual(created.json);
    const sandbox = await call(b!.apiUrl, key, 'POST', '/sandbox', { secrets: [{ R: 'REPLICATED' }] });
    const proxyKey = (await call(a!.apiUrl, key, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'] })).json.key;
    const resolved = await call(a!.apiUrl, proxyKey, 'GET', `/sandbox/${sandbox.json.id}/secrets`);
    expect(resolved.json.map((entry: any) => entry.value)).toEqual(['replica-value-1']);
    // Same name through the other replica: the shared unique constraint answers 409.
    expect((await call(b!.apiUrl, key, 'POST', '/secret', { name: 'REPLICATED', value: 'x' })).status).toBe(409);
  });
});
