/**
 * API key lifecycle over real HTTP: optional expiry (expiresIn / expiresAt, 401 saying the key
 * expired), listing and revoking, and the instance admin (admin key of `default`) doing both for
 * every org while another org's admin stays confined to its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orgWithKey, raw, startHarness, type Harness } from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

async function keyCount(): Promise<number> {
  return (await raw(harness, 'GET', '/api-keys')).json.length;
}

describe('expiry', () => {
  it('expiresIn sets expiresAt; it shows in the create reply and in the list', async () => {
    const before = Date.now();
    const created = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'], expiresIn: '30d' } });
    expect(created.status).toBe(201);
    const expiresAt = Date.parse(created.json.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    const listed = (await raw(harness, 'GET', '/api-keys')).json.find((key: any) => key.id === created.json.id);
    expect(listed.expiresAt).toBe(created.json.expiresAt);
    expect((await raw(harness, 'GET', '/secret', { key: created.json.key })).status).toBe(200);

    const at = new Date(Date.now() + 3_600_000).toISOString();
    const absolute = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'], expiresAt: at } });
    expect(absolute.status).toBe(201);
    expect(absolute.json.expiresAt).toBe(at);
    const forever = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'] } });
    expect(forever.json.expiresAt).toBeNull();
  });

  it('bad expiry is a 400 naming the field, and creates nothing', async () => {
    const count = await keyCount();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ expiresIn: '30x' }, /^expiresIn must be a duration/],
      [{ expiresIn: 30 }, /^expiresIn must be a duration/],
      [{ expiresIn: '0d' }, /^expiresIn must be a duration/],
      [{ expiresIn: '99999d' }, /^expiry must be at most 3650 days/],
      [{ expiresAt: 'tomorrow' }, /^expiresAt must be an ISO-8601/],
      [{ expiresAt: '2001-01-01T00:00:00Z' }, /^expiresAt must be in the future/],
      [{ expiresIn: '1d', expiresAt: '2100-01-01T00:00:00Z' }, /^give expiresIn or expiresAt, not both/],
    ];
    for (const [extra, message] of cases) {
      const reply = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'], ...extra } });
      expect(reply.status, JSON.stringify(extra)).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    expect(await keyCount()).toBe(count);
  });

  it('an expired key gets 401 with a message saying it expired; a wrong key still just "invalid"', async () => {
    const expiresAt = new Date(Date.now() - 1_000);
    const expired = await harness.cp.services.apiKeys.issue(harness.cp.bootstrap.defaultOrg.id, ['secrets:read'], 'old', null, randomUUID(), expiresAt);
    const reply = await raw(harness, 'GET', '/secret', { key: expired.key });
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringContaining(`this API key expired at ${expiresAt.toISOString()}`) });
    // The expiry is only told to the holder of the genuine key.
    const wrong = `${expired.key.slice(0, -1)}${expired.key.endsWith('A') ? 'B' : 'A'}`;
    const invalid = await raw(harness, 'GET', '/secret', { key: wrong });
    expect(invalid.status).toBe(401);
    expect(invalid.json.message).toBe('invalid API key');
  });
});

describe('listing and revoking across orgs', () => {
  it('the instance admin lists every org (or one with ?org=) and revokes keys of any org', async () => {
    const acme = await orgWithKey(harness, 'acme-keys', ['secrets:read']);
    const acmeKeyId = (await raw(harness, 'GET', '/api-keys?org=acme-keys')).json[0].id;

    const all = await raw(harness, 'GET', '/api-keys');
    expect(all.status).toBe(200);
    const orgIds = new Set(all.json.map((key: any) => key.orgId));
    expect(orgIds).toContain(acme.orgId);
    expect(orgIds).toContain(harness.cp.bootstrap.defaultOrg.id);
    expect(all.text).not.toMatch(/veil_key_|secretHash/);

    for (const ref of ['acme-keys', acme.orgId]) {
      const one = await raw(harness, 'GET', `/api-keys?org=${ref}`);
      expect(one.status).toBe(200);
      expect(one.json.map((key: any) => key.orgId)).toEqual([acme.orgId]);
    }
    expect((await raw(harness, 'GET', '/api-keys?org=no-such-org')).status).toBe(404);

    expect((await raw(harness, 'GET', '/secret', { key: acme.key })).status).toBe(200);
    expect((await raw(harness, 'DELETE', `/api-keys/${acmeKeyId}`)).status).toBe(204);
    expect((await raw(harness, 'GET', '/secret', { key: acme.key })).status).toBe(401);
    expect((await raw(harness, 'DELETE', `/api-keys/${acmeKeyId}`)).status).toBe(404);
    expect((await raw(harness, 'DELETE', '/api-keys/not-a-uuid')).status).toBe(404);
  });

  it("another org's admin sees and revokes only its own org's keys (404 for the rest)", async () => {
    const initech = await orgWithKey(harness, 'initech-keys', ['admin']);
    const own = await raw(harness, 'GET', '/api-keys', { key: initech.key });
    expect(own.json.map((key: any) => key.orgId)).toEqual([initech.orgId]);
    expect((await raw(harness, 'GET', '/api-keys?org=default', { key: initech.key })).status).toBe(404);

    const victim = await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['secrets:read'] } });
    expect((await raw(harness, 'DELETE', `/api-keys/${victim.json.id}`, { key: initech.key })).status).toBe(404);
    expect((await raw(harness, 'GET', '/secret', { key: victim.json.key })).status).toBe(200);

    const ownKey = await raw(harness, 'POST', '/api-keys', { key: initech.key, body: { org: 'initech-keys', scopes: ['secrets:read'] } });
    expect((await raw(harness, 'DELETE', `/api-keys/${ownKey.json.id}`, { key: initech.key })).status).toBe(204);
    expect((await raw(harness, 'GET', '/secret', { key: ownKey.json.key })).status).toBe(401);
  });
});
