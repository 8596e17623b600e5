/** Daytona SandboxApi conformance (create, get, list, delete, PUT secrets, resolve). */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/events/types.js';
import { daytona, orgWithKey, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;
let api: ReturnType<typeof daytona>;
let resolverKey: string;
const events: ChangeEvent[] = [];

beforeAll(async () => {
  harness = await startHarness();
  api = daytona(harness, harness.adminKey);
  harness.cp.feed.subscribe((event) => events.push(event));
  const key = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'], name: 'proxy' } });
  expect(key.status).toBe(201);
  resolverKey = key.json.key;
  await api.secrets.createSecret({ name: 'GITHUB_TOKEN', value: 'ghp-SANDBOX-value-1', hosts: ['api.github.com'] });
  await api.secrets.createSecret({ name: 'STRIPE', value: 'sk-SANDBOX-value-2', hosts: ['api.stripe.com'] });
});
afterAll(async () => harness?.close());

describe('sandboxes through @daytonaio/api-client', () => {
  it('creates a sandbox: env holds placeholders, proxy token shown once', async () => {
    const { status, data } = await api.sandboxes.createSandbox({ name: 'agent-1', secrets: [{ GH: 'GITHUB_TOKEN' }, { PAY: 'STRIPE' }] });
    expect(status).toBe(201);
    const created = data as any;
    expect(created).toMatchObject({ name: 'agent-1', secrets: [{ GH: 'GITHUB_TOKEN' }, { PAY: 'STRIPE' }] });
    expect(created.env.GH).toMatch(/^veil_[A-Za-z0-9]{32}$/);
    expect(created.proxyToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const fetched = (await api.sandboxes.getSandbox(created.id)).data as any;
    expect(fetched).toMatchObject({ id: created.id, name: 'agent-1', env: created.env });
    expect(fetched).not.toHaveProperty('proxyToken');
    expect(((await api.sandboxes.getSandbox('agent-1')).data as any).id).toBe(created.id); // by name too
    const listed = await raw(harness, 'GET', '/sandbox');
    expect(listed.json.map((sandbox: any) => sandbox.id)).toContain(created.id);
    expect(listed.text).not.toContain(created.proxyToken);
  });

  it('resolves values only with proxy:resolve; the admin key gets 403', async () => {
    const created = (await api.sandboxes.createSandbox({ name: 'agent-resolve', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    const forbidden = await statusOf(api.sandboxes.resolveSandboxSecrets(created.id));
    expect(forbidden.status).toBe(403);
    expect(forbidden.data.message).toContain('proxy:resolve');

    const proxy = daytona(harness, resolverKey);
    const resolved = await proxy.sandboxes.resolveSandboxSecrets(created.id);
    expect(resolved.data).toEqual([
      { env: 'GH', name: 'GITHUB_TOKEN', placeholder: created.env.GH, value: 'ghp-SANDBOX-value-1', hosts: ['api.github.com'], locations: ['header', 'url'] },
    ]);
    const tokenHash = createHash('sha256').update(created.proxyToken).digest('hex');
    expect(resolved.headers['x-veil-proxy-token-sha256']).toBe(tokenHash);
    expect(resolved.headers['cache-control']).toBe('no-store');
    expect((await statusOf(proxy.sandboxes.resolveSandboxSecrets('00000000-0000-4000-8000-000000000000'))).status).toBe(404);
    // A proxy:resolve key cannot manage sandboxes or read secrets.
    expect((await statusOf(proxy.sandboxes.getSandbox(created.id))).status).toBe(403);
    expect((await statusOf(proxy.secrets.listSecrets())).status).toBe(403);
  });

  it('a key bound to one sandbox resolves only that sandbox (404 for others)', async () => {
    const mine = (await api.sandboxes.createSandbox({ name: 'bound-a', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    const other = (await api.sandboxes.createSandbox({ name: 'bound-b', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    const key = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'], sandboxId: mine.id } });
    expect(key.status).toBe(201);
    expect(key.json.sandboxId).toBe(mine.id);
    const bound = daytona(harness, key.json.key);
    expect((await bound.sandboxes.resolveSandboxSecrets(mine.id)).status).toBe(200);
    expect((await statusOf(bound.sandboxes.resolveSandboxSecrets(other.id))).status).toBe(404);
    const unknownSandbox = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'], sandboxId: '00000000-0000-4000-8000-000000000000' } });
    expect(unknownSandbox.status).toBe(400);
    expect(unknownSandbox.json.message).toMatch(/^sandboxId/);
  });

  it('PUT secrets replaces mounts (by id or name), [] detaches all, and publishes a sandbox event', async () => {
    const created = (await api.sandboxes.createSandbox({ name: 'remount', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    events.length = 0;
    const replaced = (await api.sandboxes.updateSandboxSecrets('remount', { secrets: [{ PAY: 'STRIPE' }] })).data as any;
    expect(replaced).toMatchObject({ id: created.id, secrets: [{ PAY: 'STRIPE' }] });
    expect(Object.keys(replaced.env)).toEqual(['PAY']);
    expect(events).toEqual([{ kind: 'sandbox', orgId: harness.cp.bootstrap.defaultOrg.id, sandboxId: created.id }]);
    const proxy = daytona(harness, resolverKey);
    expect((await proxy.sandboxes.resolveSandboxSecrets(created.id)).data.map((entry) => entry.env)).toEqual(['PAY']);

    const detached = (await api.sandboxes.updateSandboxSecrets(created.id, { secrets: [] })).data as any;
    expect(detached.secrets).toEqual([]);
    expect((await proxy.sandboxes.resolveSandboxSecrets(created.id)).data).toEqual([]);
  });

  it('mount validation: unknown secret, duplicate env, reserved or bad env name; a rejected request changes nothing', async () => {
    const created = (await api.sandboxes.createSandbox({ name: 'validate', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    events.length = 0;
    const cases: Array<[unknown, RegExp]> = [
      [{ secrets: [{ X: 'NOPE' }] }, /^secrets: env var "X" refers to unknown secret "NOPE"/],
      [{ secrets: [{ A: 'STRIPE' }, { A: 'GITHUB_TOKEN' }] }, /^secrets: env var "A" is mounted more than once/],
      [{ secrets: [{ HTTPS_PROXY: 'STRIPE' }] }, /^secrets: env var HTTPS_PROXY is set by Veil itself/],
      [{ secrets: [{ VEIL_API_KEY: 'STRIPE' }] }, /^secrets: env var VEIL_API_KEY: the VEIL_ prefix is reserved/],
      [{ secrets: [{ '1BAD': 'STRIPE' }] }, /^secrets: env var "1BAD" must match/],
      [{ secrets: [{ 'A-B': 'STRIPE' }] }, /^secrets: env var "A-B" must match/],
      [{ secrets: 'STRIPE' }, /^secrets must be an array/],
      [{ secrets: [['A', 'STRIPE']] }, /^secrets: entry 0 must be an object/],
      [{}, /^secrets is required/],
    ];
    for (const [body, message] of cases) {
      const reply = await raw(harness, 'PUT', `/sandbox/${created.id}/secrets`, { body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    for (const [body, message] of cases.slice(0, 6)) {
      const reply = await raw(harness, 'POST', '/sandbox', { body: { name: 'never-created', ...(body as object) } });
      expect(reply.status).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    expect(((await api.sandboxes.getSandbox(created.id)).data as any).secrets).toEqual([{ GH: 'GITHUB_TOKEN' }]);
    expect((await statusOf(api.sandboxes.getSandbox('never-created'))).status).toBe(404);
    expect(events).toEqual([]);
  });

  it('creating a sandbox publishes a sandbox event (drops a cached "not found")', async () => {
    events.length = 0;
    const created = (await api.sandboxes.createSandbox({ name: 'announced' })).data as any;
    expect(events).toEqual([{ kind: 'sandbox', orgId: harness.cp.bootstrap.defaultOrg.id, sandboxId: created.id }]);
  });

  it('409 on a duplicate sandbox name; a name is optional (defaults to the id)', async () => {
    await api.sandboxes.createSandbox({ name: 'twice' });
    expect((await statusOf(api.sandboxes.createSandbox({ name: 'twice' }))).status).toBe(409);
    const unnamed = (await raw(harness, 'POST', '/sandbox', { body: {} })).json;
    expect(unnamed.name).toBe(unnamed.id);
    const noBody = await raw(harness, 'POST', '/sandbox');
    expect(noBody.status).toBe(201);
  });

  it('deleting a sandbox: 204, then 404, resolve 404, sandbox event', async () => {
    const created = (await api.sandboxes.createSandbox({ name: 'doomed', secrets: [{ GH: 'GITHUB_TOKEN' }] })).data as any;
    events.length = 0;
    expect((await api.sandboxes.deleteSandbox('doomed')).status).toBe(204);
    expect(events).toEqual([{ kind: 'sandbox', orgId: harness.cp.bootstrap.defaultOrg.id, sandboxId: created.id }]);
    expect((await statusOf(api.sandboxes.getSandbox(created.id))).status).toBe(404);
    expect((await statusOf(api.sandboxes.deleteSandbox(created.id))).status).toBe(404);
    expect((await statusOf(daytona(harness, resolverKey).sandboxes.resolveSandboxSecrets(created.id))).status).toBe(404);
  });

  it('secret update/delete publish secret events; deleting a secret unmounts it', async () => {
    const secret = (await api.secrets.createSecret({ name: 'EPHEMERAL', value: 'ephemeral-VALUE-1' })).data;
    const sandbox = (await api.sandboxes.createSandbox({ name: 'eph', secrets: [{ E: 'EPHEMERAL' }, { GH: 'GITHUB_TOKEN' }] })).data as any;
    events.length = 0;
    await api.secrets.updateSecret(secret.id, { hosts: ['eph.example'] });
    await api.secrets.deleteSecret(secret.id);
    const orgId = harness.cp.bootstrap.defaultOrg.id;
    expect(events).toEqual([
      { kind: 'secret', orgId, secretId: secret.id },
      { kind: 'secret', orgId, secretId: secret.id },
    ]);
    expect(((await api.sandboxes.getSandbox(sandbox.id)).data as any).secrets).toEqual([{ GH: 'GITHUB_TOKEN' }]);
    expect((await daytona(harness, resolverKey).sandboxes.resolveSandboxSecrets(sandbox.id)).data.map((entry) => entry.env)).toEqual(['GH']);
  });
});
