/**
 * Two `veil serve --no-proxy` replicas on one PostgreSQL schema behave as one control plane:
 * concurrent start (migrations + bootstrap), unique names under concurrent creates, pagination
 * across replicas, and the change stream (`GET /events`) of one replica carrying writes made
 * through the other (PostgreSQL LISTEN/NOTIFY), filtered per key, ids only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeProcess } from '../helpers/serve-process.js';
import { adminQuery, dropSchema, randomSchemaName } from '../store/pg-test-db.js';
import { ADMIN_KEY, call, replicaEnv, startReplica } from './support.js';

const schema = randomSchemaName('veil_dist_rep');
const env = replicaEnv(schema);
let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  // Started at the same moment on an empty schema: migrations and bootstrap race.
  [a, b] = await Promise.all([startReplica(env), startReplica(env)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await dropSchema(schema);
});

interface StreamEvent {
  event: string;
  data: any;
}

/** Opens `GET /events` and collects events until `done` says so; bounded by timeoutMs. */
async function openStream(baseUrl: string, key: string) {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/events`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
  const events: StreamEvent[] = [];
  let raw = '';
  const reading = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        raw += text;
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data) events.push({ event: name, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  const waitFor = async (match: (event: StreamEvent) => boolean, timeoutMs = 20_000): Promise<StreamEvent> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = events.find(match);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
  };
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events,
    raw: () => raw,
    waitFor,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

describe('replicas on one PostgreSQL database', () => {
  it('start together with one bootstrap: one default org, one admin key, visible from both', async () => {
    const orgsA = await call(a.apiUrl, ADMIN_KEY, 'GET', '/orgs');
    const orgsB = await call(b.apiUrl, ADMIN_KEY, 'GET', '/orgs');
    expect(orgsA.status).toBe(200);
    expect(orgsA.json.map((org: any) => org.name)).toEqual(['default']);
    expect(orgsB.json).toEqual(orgsA.json);
    expect((await call(b.apiUrl, ADMIN_KEY, 'GET', '/api-keys')).json).toHaveLength(1);
  });

  it('concurrent creates of one name through both replicas: exactly one 201, the rest 409', async () => {
    const attempts = Array.from({ length: 8 }, (_, index) =>
      call(index % 2 === 0 ? a.apiUrl : b.apiUrl, ADMIN_KEY, 'POST', '/secret', { name: 'RACED', value: `race-value-${index}` }),
    );
    const statuses = (await Promise.all(attempts)).map((result) => result.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const sandboxes = await Promise.all(
      Array.from({ length: 4 }, (_, index) => call(index % 2 === 0 ? a.apiUrl : b.apiUrl, ADMIN_KEY, 'POST', '/sandbox', { name: 'raced-box' })),
    );
    expect(sandboxes.map((result) => result.status).sort()).toEqual([201, 409, 409, 409]);
  });

  it('pages consistently when consecutive pages come from different replicas', async () => {
    const names = Array.from({ length: 9 }, (_, index) => `PAGE_${String(index).padStart(2, '0')}`);
    for (const [index, name] of names.entries()) {
      expect((await call(index % 2 === 0 ? b.apiUrl : a.apiUrl, ADMIN_KEY, 'POST', '/secret', { name, value: `page-value-${index}` })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const base = page % 2 === 0 ? a.apiUrl : b.apiUrl;
      const result = await call(base, ADMIN_KEY, 'GET', `/secret/paginated?limit=4&name=PAGE_&sort=name&order=asc${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(result.status).toBe(200);
      expect(result.json.total).toBe(names.length);
      seen.push(...result.json.items.map((item: any) => item.name));
      if (!result.json.nextCursor) break;
      cursor = result.json.nextCursor;
    }
    expect(seen).toEqual(names);
  });

  it('GET /events needs a proxy:resolve key', async () => {
    expect((await fetch(`${b.apiUrl}/events`)).status).toBe(401);
    const adminOnly = await fetch(`${b.apiUrl}/events`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(adminOnly.status).toBe(403);
    await adminOnly.body?.cancel();
  });

  it('streams writes made through the other replica, per key: ids only, sandbox keys see their own sandbox', async () => {
    const value = 'events-VALUE-must-not-travel-3b9f';
    const secret = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/secret', { name: 'EVENTED', value, hosts: ['e.test'] })).json;
    const mine = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/sandbox', { name: 'mine', secrets: [{ E: 'EVENTED' }] })).json;
    const other = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/sandbox', { name: 'other', secrets: [{ E: 'EVENTED' }] })).json;
    const orgKey = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'] })).json.key;
    const boxKey = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'], sandboxId: mine.id })).json.key;
    // A second org's writes must not reach this org's streams.
    await call(a.apiUrl, ADMIN_KEY, 'POST', '/orgs', { name: 'elsewhere' });
    const elsewhereKey = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'elsewhere', scopes: ['secrets:write', 'sandboxes:write'] })).json.key;

    const orgStream = await openStream(b.apiUrl, orgKey);
    const boxStream = await openStream(b.apiUrl, boxKey);
    try {
      expect(orgStream.status).toBe(200);
      expect(orgStream.contentType).toMatch(/^text\/event-stream/);
      const hello = await orgStream.waitFor((event) => event.event === 'hello');
      expect(hello.data).toMatchObject({ orgId: mine.organizationId, sandboxId: null });
      expect((await boxStream.waitFor((event) => event.event === 'hello')).data.sandboxId).toBe(mine.id);

      // Writes through replica A; both streams are served by replica B.
      await call(a.apiUrl, elsewhereKey, 'POST', '/secret', { name: 'FOREIGN', value: 'foreign-value' });
      const foreignBox = (await call(a.apiUrl, elsewhereKey, 'POST', '/sandbox', { name: 'foreign' })).json;
      await call(a.apiUrl, elsewhereKey, 'DELETE', `/sandbox/${foreignBox.id}`);
      expect((await call(a.apiUrl, ADMIN_KEY, 'PUT', `/sandbox/${other.id}/secrets`, { secrets: [] })).status).toBe(200);
      expect((await call(a.apiUrl, ADMIN_KEY, 'PATCH', `/secret/${secret.id}`, { value: `${value}-rotated` })).status).toBe(200);
      expect((await call(a.apiUrl, ADMIN_KEY, 'PUT', `/sandbox/${mine.id}/secrets`, { secrets: [] })).status).toBe(200);

      const orgId = mine.organizationId;
      await orgStream.waitFor((event) => event.event === 'change' && event.data.kind === 'sandbox' && event.data.sandboxId === mine.id);
      await boxStream.waitFor((event) => event.event === 'change' && event.data.kind === 'sandbox' && event.data.sandboxId === mine.id);
      const changes = (stream: typeof orgStream) => stream.events.filter((event) => event.event === 'change').map((event) => event.data);
      // Everything of this org, in write order, nothing of the other org.
      expect(changes(orgStream)).toEqual([
        { kind: 'sandbox', orgId, sandboxId: other.id },
        { kind: 'secret', orgId, secretId: secret.id },
        { kind: 'sandbox', orgId, sandboxId: mine.id },
      ]);
      // The sandbox-scoped key: its org's secret events and its own sandbox only.
      expect(changes(boxStream)).toEqual([
        { kind: 'secret', orgId, secretId: secret.id },
        { kind: 'sandbox', orgId, sandboxId: mine.id },
      ]);
      for (const stream of [orgStream, boxStream]) {
        expect(stream.raw()).not.toContain(value);
        expect(stream.raw()).not.toContain('EVENTED');
      }
    } finally {
      await orgStream.close();
      await boxStream.close();
    }
  });

  it('a replica whose LISTEN connection drops tells its streams to reset, then delivers again', async () => {
    const orgKey = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'] })).json.key;
    const secret = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/secret', { name: 'AFTER_GAP', value: 'gap-value-1' })).json;
    const stream = await openStream(b.apiUrl, orgKey);
    try {
      await stream.waitFor((event) => event.event === 'hello');
      // Only this file's replicas: their LISTEN connections are named after the schema.
      const killed = await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`veil:${schema}:listen`]);
      expect(killed.rowCount).toBe(2);
      await stream.waitFor((event) => event.event === 'change' && event.data.kind === 'reset');
      // Listening again: a write through A reaches B's stream.
      expect((await call(a.apiUrl, ADMIN_KEY, 'PATCH', `/secret/${secret.id}`, { value: 'gap-value-2' })).status).toBe(200);
      await stream.waitFor((event) => event.event === 'change' && event.data.kind === 'secret' && event.data.secretId === secret.id);
    } finally {
      await stream.close();
    }
  });
});
