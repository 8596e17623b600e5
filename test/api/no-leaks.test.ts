/**
 * Security invariants: secret values never appear in replies (other than the resolve reply), log
 * lines, error messages or the SQLite files; rejected requests change nothing.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/events/types.js';
import { daytona, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;
const VALUES = ['sk-LEAKCHECK-alpha-9f8e7d6c5b4a', 'LEAKCHECK-beta-\u00e9\u00e8-0123456789', 'LEAKCHECK-gamma-rotated-abcdef'];
/** A value that only ever appears in rejected requests. */
const REJECTED_VALUE = 'LEAKCHECK-rejected-value-31337';

beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

function assertClean(texts: string[], where: string): void {
  for (const text of texts) {
    for (const value of [...VALUES, REJECTED_VALUE]) {
      expect(text.includes(value), `${where} contains a secret value: ${text.slice(0, 200)}`).toBe(false);
      // Also a distinctive fragment, in case something truncated or re-encoded the value.
      expect(text.includes(value.slice(0, 16)), `${where} contains part of a secret value`).toBe(false);
    }
  }
}

describe('secret values never leak', () => {
  it('through any reply, log line or error of a full API session', async () => {
    const api = daytona(harness, harness.adminKey);
    const a = (await api.secrets.createSecret({ name: 'LEAK_A', value: VALUES[0]!, hosts: ['a.example'] })).data;
    await api.secrets.createSecret({ name: 'LEAK_B', value: VALUES[1]!, hosts: ['b.example'], description: 'desc' });
    await api.secrets.updateSecret(a.id, { value: VALUES[2]! });
    await api.secrets.getSecret(a.id);
    await api.secrets.listSecrets();
    await api.secrets.listSecretsPaginated(undefined, undefined, 1);
    const sandbox = (await api.sandboxes.createSandbox({ name: 'leaky', secrets: [{ A: 'LEAK_A' }, { B: 'LEAK_B' }] })).data as any;
    await api.sandboxes.getSandbox(sandbox.id);
    await raw(harness, 'GET', '/sandbox');
    await api.sandboxes.updateSandboxSecrets(sandbox.id, { secrets: [{ B: 'LEAK_B' }, { A: 'LEAK_A' }] });

    // Rejected requests that carry values in their bodies.
    const rejected = [
      await raw(harness, 'POST', '/secret', { rawBody: `{"name":"broken","value":"${REJECTED_VALUE}"` }),
      await raw(harness, 'POST', '/secret', { rawBody: `{"name":"broken","value":"${REJECTED_VALUE}",}` }),
      await raw(harness, 'POST', '/secret', { body: { name: 'LEAK_A', value: REJECTED_VALUE } }),
      await raw(harness, 'POST', '/secret', { body: { name: '9bad', value: REJECTED_VALUE } }),
      await raw(harness, 'POST', '/secret', { body: { name: 'hosts_bad', value: REJECTED_VALUE, hosts: ['x.com:1'] } }),
      await raw(harness, 'POST', '/secret', { body: { name: 'big', value: REJECTED_VALUE.repeat(3000) } }),
      await raw(harness, 'POST', '/secret', { body: { name: 'huge', value: REJECTED_VALUE.repeat(10_000) } }),
      await raw(harness, 'POST', '/secret', { body: { name: 'typed', value: [REJECTED_VALUE] } }),
      await raw(harness, 'PATCH', `/secret/${a.id}`, { body: { value: REJECTED_VALUE, hosts: 'nope' } }),
      await raw(harness, 'PATCH', `/secret/${a.id}`, { rawBody: `{"value":"${REJECTED_VALUE}` }),
      await raw(harness, 'POST', '/secret', { key: null, body: { name: 'unauth', value: REJECTED_VALUE } }),
      await raw(harness, 'POST', '/secret', { key: REJECTED_VALUE, body: { name: 'badkey', value: REJECTED_VALUE } }),
      await raw(harness, 'POST', '/secret', { rawBody: REJECTED_VALUE, headers: { 'content-type': 'text/plain' } }),
      await raw(harness, 'POST', '/secret', { rawBody: REJECTED_VALUE, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      await raw(harness, 'GET', `/secret/${REJECTED_VALUE}`),
    ];
    for (const reply of rejected) expect(reply.status).toBeGreaterThanOrEqual(400);

    // Resolve: the one reply allowed to carry values. Not recorded into harness.replies.
    const proxyKey = (await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['proxy:resolve'] } })).json.key;
    const resolved = await fetch(`${harness.url}/sandbox/${sandbox.id}/secrets`, { headers: { authorization: `Bearer ${proxyKey}` } });
    const resolvedText = await resolved.text();
    expect(resolvedText).toContain(VALUES[1]);
    expect(resolvedText).toContain(VALUES[2]);
    expect(resolvedText).not.toContain(VALUES[0]); // rotated away

    expect(harness.replies.length).toBeGreaterThan(20);
    assertClean(harness.replies, 'a reply');
    expect(harness.logs.length).toBeGreaterThan(20);
    assertClean(harness.logs, 'a log line');
    // The resolve request is not access-logged at info level.
    const resolveLine = `"method":"GET","url":"/sandbox/${sandbox.id}/secrets"`;
    expect(harness.logs.some((line) => line.includes(`"url":"/sandbox/${sandbox.id}/secrets"`))).toBe(true); // the PUT
    expect(harness.logs.some((line) => line.includes(resolveLine))).toBe(false);
    // Authorization headers are never logged either.
    expect(harness.logs.some((line) => line.includes(harness.adminKey) || line.includes(proxyKey))).toBe(false);
  });

  it('never in the SQLite files (db, -wal, -shm)', async () => {
    const files = (await fs.readdir(harness.dataDir)).filter((name) => name.startsWith('veil.db'));
    expect(files).toContain('veil.db');
    for (const name of files) {
      const bytes = await fs.readFile(join(harness.dataDir, name));
      for (const value of [...VALUES, REJECTED_VALUE]) {
        expect(bytes.includes(Buffer.from(value, 'utf8')), `${name} holds a plaintext value`).toBe(false);
        expect(bytes.includes(Buffer.from(value.slice(0, 16), 'utf8')), `${name} holds part of a value`).toBe(false);
      }
    }
  });
});

describe('a rejected request changes nothing', () => {
  it('leaves secrets, sandboxes and the change feed untouched', async () => {
    const api = daytona(harness, harness.adminKey);
    const secret = (await api.secrets.createSecret({ name: 'STABLE', value: 'stable-value-1', hosts: ['s.example'] })).data;
    const sandbox = (await api.sandboxes.createSandbox({ name: 'stable-sb', secrets: [{ S: 'STABLE' }] })).data as any;
    const orgId = harness.cp.bootstrap.defaultOrg.id;
    const snapshot = async () => ({
      secrets: await harness.cp.repository.listSecrets(orgId),
      sandboxes: await harness.cp.repository.listSandboxes(orgId),
      keys: await harness.cp.repository.listApiKeys(orgId),
      orgs: await harness.cp.repository.listOrgs(),
    });
    const before = await snapshot();
    const events: ChangeEvent[] = [];
    const unsubscribe = harness.cp.feed.subscribe((event) => events.push(event));
    const attempts = [
      statusOf(api.secrets.updateSecret(secret.id, { value: 'changed', hosts: ['bad:1'] })),
      statusOf(api.secrets.updateSecret(secret.id, { value: '', description: 'changed' })),
      statusOf(api.secrets.updateSecret(secret.id, { description: 'x'.repeat(2000), hosts: ['ok.example'] })),
      statusOf(api.secrets.createSecret({ name: 'STABLE', value: 'dup' })),
      statusOf(api.sandboxes.updateSandboxSecrets(sandbox.id, { secrets: [{ S: 'STABLE' }, { T: 'MISSING' }] })),
      statusOf(api.sandboxes.createSandbox({ name: 'stable-sb' })),
      statusOf(daytona(harness, 'veil_key_00000000000000000000000000000000_' + 'A'.repeat(43)).secrets.deleteSecret(secret.id)),
    ];
    const statuses = (await Promise.all(attempts)).map((result) => result.status);
    expect(statuses).toEqual([400, 400, 400, 409, 400, 409, 401]);
    expect((await raw(harness, 'POST', '/api-keys', { body: { org: 'default', scopes: ['bogus'] } })).status).toBe(400);
    expect((await raw(harness, 'POST', '/orgs', { body: { name: 'default' } })).status).toBe(409);
    unsubscribe();
    expect(events).toEqual([]);
    expect(await snapshot()).toEqual(before);
    const resolved = await harness.cp.resolver.resolve(sandbox.id);
    expect(resolved!.secrets.map((entry) => entry.value)).toEqual(['stable-value-1']);
  });
});
