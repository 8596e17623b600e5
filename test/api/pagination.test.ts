/** GET /secret/paginated: limits, sort/order, name filter, cursors (also under concurrent inserts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Secret } from '@daytonaio/api-client';
import { daytona, raw, startHarness, statusOf, type Harness } from './harness.js';

let harness: Harness;
let api: ReturnType<typeof daytona>;
const NAMES = Array.from({ length: 23 }, (_, index) => `key_${String(index).padStart(2, '0')}`);

beforeAll(async () => {
  harness = await startHarness();
  api = daytona(harness, harness.adminKey);
  for (const name of NAMES) await api.secrets.createSecret({ name, value: `page-VALUE-${name}` });
  await api.secrets.createSecret({ name: 'Other_percent', value: 'page-VALUE-other' });
  await api.secrets.createSecret({ name: 'KEYRING', value: 'page-VALUE-keyring' });
});
afterAll(async () => harness?.close());

async function walk(sort?: 'name' | 'createdAt' | 'updatedAt', order?: 'asc' | 'desc', limit = 5, name?: string): Promise<Secret[]> {
  const seen: Secret[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const { data } = await api.secrets.listSecretsPaginated(undefined, cursor, limit, name, sort, order);
    expect(data.items.length).toBeLessThanOrEqual(limit);
    seen.push(...data.items);
    if (data.nextCursor === null) return seen;
    cursor = data.nextCursor;
  }
  throw new Error('pagination did not terminate');
}

describe('paginated secrets', () => {
  it('defaults: limit 100, total counts everything', async () => {
    const { data } = await api.secrets.listSecretsPaginated();
    expect(data.total).toBe(25);
    expect(data.items).toHaveLength(25);
    expect(data.nextCursor).toBeNull();
    expect(JSON.stringify(data)).not.toContain('page-VALUE');
  });

  it('walks every item exactly once for each sort and order', async () => {
    const all = (await api.secrets.listSecrets()).data;
    for (const sort of ['name', 'createdAt', 'updatedAt'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const walked = await walk(sort, order, 4);
        expect(walked.map((secret) => secret.id).sort()).toEqual(all.map((secret) => secret.id).sort());
        const keys = walked.map((secret) => (sort === 'name' ? secret.name : new Date(secret[sort]).getTime()));
        const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(keys).toEqual(order === 'asc' ? sorted : sorted.reverse());
      }
    }
  });

  it('name sort is case-sensitive byte order with the id as tie-breaker', async () => {
    const names = (await walk('name', 'asc', 7)).map((secret) => secret.name);
    expect(names[0]).toBe('KEYRING');
    expect(names).toEqual([...names].sort());
  });

  it('filters by a case-insensitive substring; % and _ are literal', async () => {
    const { data } = await api.secrets.listSecretsPaginated(undefined, undefined, 100, 'KEY_1');
    expect(data.items.map((secret) => secret.name).sort()).toEqual(NAMES.filter((name) => name.startsWith('key_1')));
    expect(data.total).toBe(10);
    // "_" must not act as a wildcard: "y_" matches key_NN but not KEYRING.
    expect((await api.secrets.listSecretsPaginated(undefined, undefined, 100, 'Y_')).data.total).toBe(23);
    expect((await api.secrets.listSecretsPaginated(undefined, undefined, 100, '%')).data.total).toBe(0);
    const filtered = await walk('name', 'desc', 3, 'key_2');
    expect(filtered.map((secret) => secret.name)).toEqual(['key_22', 'key_21', 'key_20']);
  });

  it('limit bounds and bad parameters are 400s naming the parameter', async () => {
    expect((await api.secrets.listSecretsPaginated(undefined, undefined, 200)).status).toBe(200);
    expect((await api.secrets.listSecretsPaginated(undefined, undefined, 1)).data.items).toHaveLength(1);
    const cases: Array<[string, RegExp]> = [
      ['limit=0', /^limit must be an integer from 1 to 200/],
      ['limit=201', /^limit must be/],
      ['limit=abc', /^limit must be/],
      ['limit=1.5', /^limit must be/],
      ['sort=value', /^sort must be one of name, createdAt, updatedAt/],
      ['order=up', /^order must be asc or desc/],
      ['cursor=!!!', /^cursor is not valid/],
      [`cursor=${Buffer.from('{"v":1}').toString('base64url')}`, /^cursor is not valid/],
      [`cursor=${Buffer.from('not json').toString('base64url')}`, /^cursor is not valid/],
    ];
    for (const [query, message] of cases) {
      const reply = await raw(harness, 'GET', `/secret/paginated?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.json.message).toMatch(message);
    }
    const first = await api.secrets.listSecretsPaginated(undefined, undefined, 2, undefined, 'name', 'asc');
    const mismatch = await statusOf(api.secrets.listSecretsPaginated(undefined, first.data.nextCursor!, 2, undefined, 'createdAt', 'asc'));
    expect(mismatch.status).toBe(400);
    expect(mismatch.data.message).toMatch(/^cursor was issued for a different sort/);
    // Without sort/order the cursor's own are used.
    const next = await api.secrets.listSecretsPaginated(undefined, first.data.nextCursor!, 2);
    expect(next.data.items.map((secret) => secret.name)).toEqual((await walk('name', 'asc', 100)).slice(2, 4).map((secret) => secret.name));
  });

  it('cursors stay stable while other clients insert: no duplicates, no skipped pre-existing items', async () => {
    const before = new Set((await api.secrets.listSecrets()).data.map((secret) => secret.id));
    const seen: string[] = [];
    let cursor: string | undefined;
    let inserted = 0;
    for (let pages = 0; pages < 100; pages++) {
      const { data } = await api.secrets.listSecretsPaginated(undefined, cursor, 3, undefined, 'name', 'asc');
      seen.push(...data.items.map((secret) => secret.id));
      // Insert names sorting both before and after the current position.
      await Promise.all([
        api.secrets.createSecret({ name: `aaa_concurrent_${inserted}`, value: 'concurrent-VALUE' }),
        api.secrets.createSecret({ name: `zzz_concurrent_${inserted}`, value: 'concurrent-VALUE' }),
      ]);
      inserted++;
      if (data.nextCursor === null) break;
      cursor = data.nextCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });
});
