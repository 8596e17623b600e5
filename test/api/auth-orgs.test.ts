/** Authentication, scopes, the org header, admin routes and cross-org isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daytona, orgWithKey, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('authentication', () => {
  it('health needs no key', async () => {
    const reply = await raw(harness, 'GET', '/health', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok' });
  });

  it('401 for a missing, malformed or unknown key, with the error shape', async () => {
    const forged = `veil_key_${harness.cp.bootstrap.defaultOrg.id.replace(/-/g, '')}_${'A'.repeat(43)}`;
    const adminWithTail = `${harness.adminKey.slice(0, -1)}${harness.adminKey.endsWith('A') ? 'B' : 'A'}`;
    for (const key of [null, '', 'short', forged, adminWithTail, 'x'.repeat(40)]) {
      const reply = await raw(harness, 'GET', '/secret', { key });
      expect(reply.status, String(key)).toBe(401);
      expect(reply.json).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.any(String) });
      expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const basic = await raw(harness, 'GET', '/secret', { key: null, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('authenticates before parsing the body (401 beats 400)', async () => {
    const reply = await raw(harness, 'POST', '/secret', { key: null, rawBody: '{not json' });
    expect(reply.status).toBe(401);
  });

  it('403 names the missing scope', async () => {
    const readOnly = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'] } });
    expect(readOnly.status).toBe(201);
    expect(readOnly.json).toMatchObject({ orgId: harness.cp.bootstrap.defaultOrg.id, scopes: ['secrets:read'], sandboxId: null });
    expect(readOnly.json.key).toMatch(/^veil_key_/);
    const reader = daytona(harness, readOnly.json.key);
    expect((await reader.secrets.listSecrets()).status).toBe(200);
    const denied = await statusOf(reader.secrets.createSecret({ name: 'nope', value: 'scope-VALUE' }));
    expect(denied.status).toBe(403);
    expect(denied.data).toEqual({ statusCode: 403, error: 'Forbidden', message: 'this API key lacks the scope "secrets:write"' });
    expect((await statusOf(reader.sandboxes.createSandbox({}))).status).toBe(403);
    expect((await raw(harness, 'GET', '/orgs', { key: readOnly.json.key })).status).toBe(403);
  });

  it('X-Daytona-Organization-ID must match the key', async () => {
    const orgId = harness.cp.bootstrap.defaultOrg.id;
    expect((await daytona(harness, harness.adminKey, orgId).secrets.listSecrets()).status).toBe(200);
    const mismatch = await statusOf(daytona(harness, harness.adminKey, '00000000-0000-4000-8000-000000000000').secrets.listSecrets());
    expect(mismatch.status).toBe(403);
    expect(mismatch.data.message).toMatch(/X-Daytona-Organization-ID/);
  });

  it('API key validation errors name the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ scopes: ['admin'] }, /^org is required/],
      [{ org: 'default' }, /^scopes must be a non-empty array/],
      [{ org: 'default', scopes: ['root'] }, /^scopes: entry 0 must be one of/],
      [{ org: 'default', scopes: ['admin'], sandboxId: 'abc' }, /^sandboxId must be/],
    ];
    for (const [body, message] of cases) {
      const reply = await raw(harness, 'POST', '/api-keys', { body });
      expect(reply.status).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    expect((await raw(harness, 'POST', '/api-keys', { body: { org: 'no-such-org', scopes: ['admin'] } })).status).toBe(404);
  });

  it('lists keys of the caller org without any secret material; deleting a key revokes it', async () => {
    const created = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'], name: 'temp' } });
    const listed = await raw(harness, 'GET', '/api-keys');
    expect(listed.status).toBe(200);
    expect(listed.json.map((key: any) => key.id)).toContain(created.json.id);
    expect(listed.text).not.toContain(created.json.key);
    expect(listed.text).not.toMatch(/secretHash|veil_key_/);
    expect((await raw(harness, 'GET', '/secret', { key: created.json.key })).status).toBe(200);
    expect((await raw(harness, 'DELETE', `/api-keys/${created.json.id}`)).status).toBe(204);
    expect((await raw(harness, 'GET', '/secret', { key: created.json.key })).status).toBe(401);
  });
});

describe('organizations and isolation', () => {
  it('creates orgs (201, 409 duplicate, 400 bad name) and lists them', async () => {
    const created = await raw(harness, 'POST', '/orgs', { body: { name: 'acme' } });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'acme', createdAt: expect.any(String) });
    expect((await raw(harness, 'POST', '/orgs', { body: { name: 'acme' } })).status).toBe(409);
    const bad = await raw(harness, 'POST', '/orgs', { body: { name: '' } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/^name/);
    const listed = await raw(harness, 'GET', '/orgs');
    expect(listed.json.map((org: any) => org.name)).toEqual(expect.arrayContaining(['default', 'acme']));
  });

  it('another org sees 404 (never 403) for this org\'s secrets and sandboxes, and has its own namespace', async () => {
    const mine = daytona(harness, harness.adminKey);
    const secret = (await mine.secrets.createSecret({ name: 'SHARED_NAME', value: 'org-a-VALUE-xyz', hosts: ['a.example'] })).data;
    const sandbox = (await mine.sandboxes.createSandbox({ name: 'sb-a', secrets: [{ S: 'SHARED_NAME' }] })).data as any;

    const other = await orgWithKey(harness, 'globex', ['secrets:read', 'secrets:write', 'sandboxes:write', 'proxy:resolve']);
    const theirs = daytona(harness, other.key);
    for (const call of [
      theirs.secrets.getSecret(secret.id),
      theirs.secrets.updateSecret(secret.id, { value: 'hijack-VALUE' }),
      theirs.secrets.deleteSecret(secret.id),
      theirs.sandboxes.getSandbox(sandbox.id),
      theirs.sandboxes.getSandbox('sb-a'),
      theirs.sandboxes.deleteSandbox(sandbox.id),
      theirs.sandboxes.updateSandboxSecrets(sandbox.id, { secrets: [] }),
      theirs.sandboxes.resolveSandboxSecrets(sandbox.id),
    ]) {
      expect((await statusOf(call)).status).toBe(404);
    }
    expect((await theirs.secrets.listSecrets()).data).toEqual([]);
    expect((await theirs.secrets.listSecretsPaginated()).data).toEqual({ items: [], total: 0, nextCursor: null });
    // Same name in another org is fine; their sandbox cannot mount our secret by name.
    expect((await theirs.secrets.createSecret({ name: 'SHARED_NAME', value: 'org-b-VALUE-xyz' })).status).toBe(201);
    const theirSandbox = (await theirs.sandboxes.createSandbox({ name: 'sb-a', secrets: [{ S: 'SHARED_NAME' }] })).data as any;
    expect(theirSandbox.env.S).not.toBe(sandbox.env.S);
    const resolved = await theirs.sandboxes.resolveSandboxSecrets(theirSandbox.id);
    expect(resolved.data.map((entry) => entry.value)).toEqual(['org-b-VALUE-xyz']);
    // Our secret is untouched.
    expect((await mine.secrets.getSecret(secret.id)).data).toEqual(secret);
    const ours = await harness.cp.resolver.resolve(sandbox.id);
    expect(ours!.secrets.map((entry) => entry.value)).toEqual(['org-a-VALUE-xyz']);
  });

  it('an admin key of another org administers only its own org', async () => {
    const { key } = await orgWithKey(harness, 'initech', ['admin']);
    expect((await raw(harness, 'POST', '/orgs', { key, body: { name: 'sneaky' } })).status).toBe(403);
    const orgs = await raw(harness, 'GET', '/orgs', { key });
    expect(orgs.json.map((org: any) => org.name)).toEqual(['initech']);
    expect((await raw(harness, 'POST', '/api-keys', { key, body: { org: 'default', scopes: ['secrets:read'] } })).status).toBe(404);
    expect((await raw(harness, 'POST', '/api-keys', { key, body: { org: 'initech', scopes: ['secrets:read'] } })).status).toBe(201);
  });

  it('unknown routes are 404 with the error shape', async () => {
    const reply = await raw(harness, 'GET', '/nope');
    expect(reply.status).toBe(404);
    expect(reply.json).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
