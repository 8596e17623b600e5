/**
 * A key created with a sandboxId acts only on that sandbox: on every sandbox route another
 * sandbox of the same org answers 404 (as one of another org would) and stays untouched; the
 * routes that are not about a sandbox (secrets, orgs, keys) refuse the key. Real HTTP against a
 * control plane on 127.0.0.1:0, with Daytona's client and fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daytona, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;
let admin: ReturnType<typeof daytona>;
let boxA: { id: string; name: string };
let boxB: { id: string; name: string };
/** sandboxes:write + proxy:resolve, bound to sandbox A. */
let boundKey: string;

async function keyFor(body: Record<string, unknown>): Promise<string> {
  const reply = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', ...body } });
  expect(reply.status, reply.text).toBe(201);
  return reply.json.key;
}

beforeAll(async () => {
  harness = await startHarness();
  admin = daytona(harness, harness.adminKey);
  await admin.secrets.createSecret({ name: 'TOKEN_A', value: 'scoped-VALUE-a', hosts: ['a.example.com'] });
  await admin.secrets.createSecret({ name: 'TOKEN_B', value: 'scoped-VALUE-b', hosts: ['b.example.com'] });
  boxA = (await admin.sandboxes.createSandbox({ name: 'box-a', secrets: [{ A: 'TOKEN_A' }] })).data as any;
  boxB = (await admin.sandboxes.createSandbox({ name: 'box-b', secrets: [{ B: 'TOKEN_B' }] })).data as any;
  boundKey = await keyFor({ scopes: ['sandboxes:write', 'proxy:resolve'], sandboxId: boxA.id, name: 'bound to A' });
});
afterAll(async () => harness?.close());

/** B as the admin sees it: proves a refused call changed nothing. */
async function boxBNow(): Promise<unknown> {
  return (await admin.sandboxes.getSandbox(boxB.id)).data;
}

describe('a sandboxes:write key bound to sandbox A', () => {
  it('GET /sandbox lists only A', async () => {
    const listed = await raw(harness, 'GET', '/sandbox', { key: boundKey });
    expect(listed.status).toBe(200);
    expect(listed.json.map((box: any) => box.id)).toEqual([boxA.id]);
    expect(listed.json[0].env).toEqual({ A: expect.stringMatching(/^veil_/) });
  });

  it('GET /sandbox/{idOrName}: A by id and name; B is 404 by id and by name', async () => {
    const bound = daytona(harness, boundKey);
    expect(((await bound.sandboxes.getSandbox(boxA.id)).data as any).id).toBe(boxA.id);
    expect(((await bound.sandboxes.getSandbox('box-a')).data as any).id).toBe(boxA.id);
    for (const ref of [boxB.id, 'box-b']) {
      const denied = await statusOf(bound.sandboxes.getSandbox(ref));
      expect(denied.status, ref).toBe(404);
      expect(denied.data.statusCode).toBe(404);
    }
  });

  it('PUT /sandbox/{idOrName}/secrets: remounts A; B is 404 and keeps its mounts', async () => {
    const bound = daytona(harness, boundKey);
    const before = await boxBNow();
    for (const ref of [boxB.id, 'box-b']) {
      expect((await statusOf(bound.sandboxes.updateSandboxSecrets(ref, { secrets: [{ STOLEN: 'TOKEN_A' }] }))).status, ref).toBe(404);
    }
    expect(await boxBNow()).toEqual(before);
    const remounted = (await bound.sandboxes.updateSandboxSecrets(boxA.id, { secrets: [{ A: 'TOKEN_A' }, { A2: 'TOKEN_A' }] })).data as any;
    expect(Object.keys(remounted.env)).toEqual(['A', 'A2']);
  });

  it('GET /sandbox/{id}/secrets: resolves A; B is 404', async () => {
    const bound = daytona(harness, boundKey);
    expect((await bound.sandboxes.resolveSandboxSecrets(boxA.id)).data.map((entry) => entry.value)).toEqual(['scoped-VALUE-a', 'scoped-VALUE-a']);
    const denied = await raw(harness, 'GET', `/sandbox/${boxB.id}/secrets`, { key: boundKey });
    expect(denied.status).toBe(404);
    expect(denied.text).not.toContain('scoped-VALUE-b');
  });

  it('POST /sandbox is refused (403): a new sandbox is not its sandbox', async () => {
    const before = (await raw(harness, 'GET', '/sandbox')).json.length;
    const denied = await raw(harness, 'POST', '/sandbox', { key: boundKey, body: { name: 'box-c' } });
    expect(denied.status).toBe(403);
    expect(denied.json.message).toContain(boxA.id);
    expect((await raw(harness, 'GET', '/sandbox')).json.length).toBe(before);
  });

  it('DELETE /sandbox/{idOrName}: B is 404 and still exists; A can be deleted', async () => {
    const bound = daytona(harness, boundKey);
    for (const ref of [boxB.id, 'box-b']) {
      expect((await statusOf(bound.sandboxes.deleteSandbox(ref))).status, ref).toBe(404);
    }
    expect(((await boxBNow()) as any).id).toBe(boxB.id);
    const scratch = (await admin.sandboxes.createSandbox({ name: 'box-scratch' })).data as any;
    const scratchKey = await keyFor({ scopes: ['sandboxes:write'], sandboxId: scratch.id });
    expect((await raw(harness, 'DELETE', `/sandbox/${scratch.id}`, { key: scratchKey })).status).toBe(204);
    expect((await statusOf(admin.sandboxes.getSandbox(scratch.id))).status).toBe(404);
  });
});

describe('routes that are not about a sandbox', () => {
  it('POST /api-keys refuses a sandboxId with scopes other than sandboxes:write and proxy:resolve', async () => {
    for (const scopes of [['secrets:read'], ['secrets:write'], ['admin'], ['sandboxes:write', 'admin']]) {
      const reply = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes, sandboxId: boxA.id } });
      expect(reply.status, scopes.join()).toBe(400);
      expect(reply.json.message).toMatch(/^sandboxId: a sandbox-scoped key may only have the scopes sandboxes:write, proxy:resolve/);
    }
  });

  it('a stored sandbox-scoped key with broader scopes gets 403 on secrets, orgs and keys routes', async () => {
    // Keys minted before the rule above could carry any scope: the auth layer still confines them.
    const broad = await harness.cp.services.apiKeys.issue(harness.cp.bootstrap.defaultOrg.id, ['secrets:read', 'secrets:write', 'sandboxes:write', 'admin'], 'old', boxA.id);
    const secretId = (await admin.secrets.listSecrets()).data[0]!.id;
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/secret'],
      ['GET', '/secret/paginated'],
      ['GET', `/secret/${secretId}`],
      ['POST', '/secret', { name: 'NEW_ONE', value: 'scoped-VALUE-new' }],
      ['PATCH', `/secret/${secretId}`, { description: 'changed' }],
      ['DELETE', `/secret/${secretId}`],
      ['GET', '/orgs'],
      ['POST', '/orgs', { name: 'escape' }],
      ['GET', '/api-keys'],
      ['POST', '/api-keys', { org: 'default', scopes: ['admin'] }],
      ['DELETE', `/api-keys/${broad.id}`],
    ];
    for (const [method, path, body] of calls) {
      const reply = await raw(harness, method, path, { key: broad.key, ...(body ? { body } : {}) });
      expect(reply.status, `${method} ${path}`).toBe(403);
      expect(reply.json.message).toMatch(/restricted to sandbox/);
    }
    expect((await admin.secrets.listSecrets()).data.map((secret) => secret.name).sort()).toEqual(['TOKEN_A', 'TOKEN_B']);
    // Its sandbox routes still work, on its sandbox only.
    expect((await raw(harness, 'GET', '/sandbox', { key: broad.key })).json.map((box: any) => box.id)).toEqual([boxA.id]);
  });
});
