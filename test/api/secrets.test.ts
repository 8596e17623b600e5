/** Daytona SecretApi conformance against a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daytona, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;
let api: ReturnType<typeof daytona>;

beforeAll(async () => {
  harness = await startHarness();
  api = daytona(harness, harness.adminKey);
});
afterAll(async () => harness?.close());

describe('secrets through @daytonaio/api-client', () => {
  it('creates a secret and never returns its value', async () => {
    const { data, status } = await api.secrets.createSecret({
      name: 'OPENAI_KEY',
      value: 'sk-conformance-VALUE-0001',
      description: 'the openai key',
      hosts: ['API.OpenAI.com.', '*.example.com', 'api.openai.com'],
    });
    expect(status).toBe(201);
    expect(data).toMatchObject({ name: 'OPENAI_KEY', description: 'the openai key', hosts: ['api.openai.com', '*.example.com'], locations: ['header', 'url'] });
    expect(data.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(data.placeholder).toMatch(/^veil_[A-Za-z0-9]{32}$/);
    expect(new Date(data.createdAt).getTime()).toBeGreaterThan(0);
    expect(data).not.toHaveProperty('value');
    expect(JSON.stringify(data)).not.toContain('sk-conformance-VALUE-0001');
  });

  it('gets, lists, updates (partial) and deletes', async () => {
    const { data: created } = await api.secrets.createSecret({ name: 'to-update', value: 'first-VALUE-aaaa', hosts: ['a.example'] });
    const { data: fetched } = await api.secrets.getSecret(created.id);
    expect(fetched).toEqual(created);
    const { data: list } = await api.secrets.listSecrets();
    expect(list.map((secret) => secret.name)).toContain('to-update');
    expect(list.every((secret) => !('value' in secret))).toBe(true);

    const { data: updated } = await api.secrets.updateSecret(created.id, { value: 'second-VALUE-bbbb' });
    expect(updated.placeholder).toBe(created.placeholder); // rotation keeps the placeholder
    expect(updated.hosts).toEqual(['a.example']); // omitted fields unchanged
    expect(updated.description).toBe(created.description);
    expect(new Date(updated.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(created.updatedAt).getTime());

    const { data: rehosted } = await api.secrets.updateSecret(created.id, { hosts: ['b.example'], description: 'now described' });
    expect(rehosted).toMatchObject({ hosts: ['b.example'], description: 'now described', placeholder: created.placeholder });

    const deleted = await api.secrets.deleteSecret(created.id);
    expect(deleted.status).toBe(204);
    expect((await statusOf(api.secrets.getSecret(created.id))).status).toBe(404);
    expect((await statusOf(api.secrets.deleteSecret(created.id))).status).toBe(404);
    expect((await statusOf(api.secrets.updateSecret(created.id, { description: 'x' }))).status).toBe(404);
  });

  it('rotation re-encrypts with a fresh blob and the new value resolves', async () => {
    const { data: created } = await api.secrets.createSecret({ name: 'rotating', value: 'rotate-VALUE-old', hosts: ['r.example'] });
    const before = await harness.cp.repository.getSecret(harness.cp.bootstrap.defaultOrg.id, created.id);
    await api.secrets.updateSecret(created.id, { value: 'rotate-VALUE-new' });
    const after = await harness.cp.repository.getSecret(harness.cp.bootstrap.defaultOrg.id, created.id);
    expect(after!.encryptedValue.equals(before!.encryptedValue)).toBe(false);
    const sandbox = await api.sandboxes.createSandbox({ secrets: [{ ROT: 'rotating' }] });
    const resolved = await harness.cp.resolver.resolve(sandbox.data.id);
    expect(resolved!.secrets.find((secret) => secret.env === 'ROT')!.value).toBe('rotate-VALUE-new');
  });

  it('409 on a duplicate name; names are case-sensitive', async () => {
    await api.secrets.createSecret({ name: 'dup_name', value: 'dup-VALUE-1' });
    const conflict = await statusOf(api.secrets.createSecret({ name: 'dup_name', value: 'dup-VALUE-2' }));
    expect(conflict.status).toBe(409);
    expect(conflict.data).toEqual({ statusCode: 409, error: 'Conflict', message: expect.stringContaining('dup_name') });
    const { status } = await api.secrets.createSecret({ name: 'DUP_NAME', value: 'dup-VALUE-3' });
    expect(status).toBe(201);
  });

  it('400s name the field and the reason', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ value: 'v-VALUE-400' }, /^name is required/],
      [{ name: '1abc', value: 'v-VALUE-400' }, /^name must match \^\[a-zA-Z_\]/],
      [{ name: 'has space', value: 'v-VALUE-400' }, /^name must match/],
      [{ name: 'x'.repeat(257), value: 'v-VALUE-400' }, /^name must be at most 256/],
      [{ name: 'ok_name' }, /^value is required/],
      [{ name: 'ok_name', value: '' }, /^value must not be empty/],
      [{ name: 'ok_name', value: 'x'.repeat(64 * 1024 + 1) }, /^value must be at most 65536 bytes/],
      [{ name: 'ok_name', value: 'é'.repeat(32 * 1024 + 1) }, /^value must be at most 65536 bytes/],
      [{ name: 'ok_name', value: 'lone-\ud800-surrogate' }, /^value must be valid Unicode/],
      [{ name: 'ok_name', value: 42 }, /^value is required and must be a string/],
      [{ name: 'ok_name', value: 'v-VALUE-400', description: 'd'.repeat(1025) }, /^description must be at most 1024/],
      [{ name: 'ok_name', value: 'v-VALUE-400', hosts: ['a.com', 'b.com', 'a.com:443'] }, /^hosts: entry 2 \("a\.com:443"\) must not contain a port/],
      [{ name: 'ok_name', value: 'v-VALUE-400', hosts: ['https://a.com'] }, /^hosts: entry 0 .*no scheme/],
      [{ name: 'ok_name', value: 'v-VALUE-400', hosts: ['*'] }, /^hosts: entry 0 .*wildcard/],
      [{ name: 'ok_name', value: 'v-VALUE-400', hosts: 'a.com' }, /^hosts must be an array/],
      [{ name: 'ok_name', value: 'v-VALUE-400', locations: ['cookie'] }, /^locations: entry 0 must be one of header, url, body/],
      [{ name: 'ok_name', value: 'v-VALUE-400', locations: [] }, /^locations must not be empty/],
    ];
    for (const [body, message] of cases) {
      const reply = await raw(harness, 'POST', '/secret', { body });
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(reply.json).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringMatching(message) });
    }
    // A value exactly at the limit is fine, and none of the rejected requests created anything.
    expect((await raw(harness, 'POST', '/secret', { body: { name: 'at_limit', value: 'x'.repeat(64 * 1024) } })).status).toBe(201);
    expect((await raw(harness, 'POST', '/secret', { body: { name: 'emoji', value: 'key-\u{1F511}-paired' } })).status).toBe(201);
    const names = (await api.secrets.listSecrets()).data.map((secret) => secret.name);
    expect(names).not.toContain('ok_name');
  });

  it('accepts and returns locations; PATCH may rename', async () => {
    const created = await raw(harness, 'POST', '/secret', { body: { name: 'with_body', value: 'loc-VALUE', locations: ['body', 'header', 'body'] } });
    expect(created.status).toBe(201);
    expect(created.json.locations).toEqual(['header', 'body']);
    const renamed = await raw(harness, 'PATCH', `/secret/${created.json.id}`, { body: { name: 'renamed_body', locations: ['url'] } });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'renamed_body', locations: ['url'], placeholder: created.json.placeholder });
    await raw(harness, 'POST', '/secret', { body: { name: 'other_one', value: 'loc-VALUE-2' } });
    const clash = await raw(harness, 'PATCH', `/secret/${created.json.id}`, { body: { name: 'other_one' } });
    expect(clash.status).toBe(409);
    const badPatch = await raw(harness, 'PATCH', `/secret/${created.json.id}`, { body: { hosts: ['ok.example'], value: '' } });
    expect(badPatch.status).toBe(400);
    expect((await raw(harness, 'GET', `/secret/${created.json.id}`)).json.hosts).toEqual([]); // rejected PATCH changed nothing
  });

  it('404 for unknown or malformed ids', async () => {
    expect((await statusOf(api.secrets.getSecret('00000000-0000-4000-8000-000000000000'))).status).toBe(404);
    expect((await statusOf(api.secrets.getSecret('not-a-uuid'))).status).toBe(404);
  });

  it('malformed JSON and wrong content types are 400/415 with fixed messages', async () => {
    const broken = await raw(harness, 'POST', '/secret', { rawBody: '{"name":"x","value":"sk-BROKEN-json-VALUE' });
    expect(broken.status).toBe(400);
    expect(broken.json).toEqual({ statusCode: 400, error: 'Bad Request', message: 'body is not valid JSON' });
    const notObject = await raw(harness, 'POST', '/secret', { rawBody: '[1,2]' });
    expect(notObject.status).toBe(400);
    expect(notObject.json.message).toBe('body must be a JSON object');
    const xml = await raw(harness, 'POST', '/secret', { rawBody: '<name>x</name>', headers: { 'content-type': 'application/xml' } });
    expect(xml.status).toBe(415);
    const text = await raw(harness, 'POST', '/secret', { rawBody: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(400);
    expect(text.json.message).toBe('body must be a JSON object');
    const huge = await raw(harness, 'POST', '/secret', { body: { name: 'huge', value: 'x'.repeat(300 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.json.message).toBe('body is too large');
  });
});
