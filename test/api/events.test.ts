/**
 * `GET /events` on a real control plane (127.0.0.1:0) read by a real HTTP client (node:http): the
 * heartbeat comment arrives on its interval, and deleting the key that opened a stream ends that
 * stream at the next heartbeat (the key is re-checked there), while other streams stay open.
 * The interval is shortened through `eventsHeartbeatMs`; every wait is bounded.
 */
import { randomUUID } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_MS } from '../../src/api/events.js';
import { raw, startHarness, type Harness } from './harness.js';

const HEARTBEAT = ': heartbeat\n\n';

interface Stream {
  status: number;
  headers: IncomingMessage['headers'];
  /** Everything received so far. */
  text(): string;
  /** Arrival time (ms, performance.now) of every heartbeat comment, in order. */
  heartbeats: number[];
  helloAt: number | undefined;
  ended: boolean;
  endedAt: number | undefined;
  close(): void;
}

/** Opens the stream; resolves at the reply head. */
function openStream(harness: Harness, key: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${harness.url}/events`, { headers: { authorization: `Bearer ${key}` }, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no reply head within 5 s'));
    }, 5_000);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (response) => {
      clearTimeout(timer);
      let received = '';
      const stream: Stream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        text: () => received,
        heartbeats: [],
        helloAt: undefined,
        ended: false,
        endedAt: undefined,
        close: () => {
          response.destroy();
          req.destroy();
        },
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const now = performance.now();
        const before = received.split(HEARTBEAT).length - 1;
        received += chunk;
        const after = received.split(HEARTBEAT).length - 1;
        for (let i = before; i < after; i++) stream.heartbeats.push(now);
        if (stream.helloAt === undefined && received.includes('event: hello\n')) stream.helloAt = now;
      });
      const finish = () => {
        if (stream.ended) return;
        stream.ended = true;
        stream.endedAt = performance.now();
      };
      response.on('end', finish);
      response.on('close', finish);
      response.on('error', finish);
      resolve(stream);
    });
    req.end();
  });
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function helloOf(stream: Stream): { orgId: string; sandboxId: string | null; heartbeatMs: number } {
  const data = /event: hello\ndata: (.*)\n\n/.exec(stream.text())?.[1];
  if (!data) throw new Error(`no hello in ${JSON.stringify(stream.text())}`);
  return JSON.parse(data) as { orgId: string; sandboxId: string | null; heartbeatMs: number };
}

/** A proxy:resolve key in org `org` (created if needed): its record id and the key. */
async function resolveKey(harness: Harness, org: string): Promise<{ id: string; key: string }> {
  const created = await raw(harness, 'POST', '/orgs', { body: { name: org } });
  expect([201, 409]).toContain(created.status);
  const key = await raw(harness, 'POST', '/api-keys', { body: { org, scopes: ['proxy:resolve'] } });
  expect(key.status).toBe(201);
  return { id: key.json.id as string, key: key.json.key as string };
}

/**
 * A control plane with a short heartbeat for one describe block; every stream opened through
 * `open` is closed with it.
 */
function serverWithHeartbeat(interval: number): { harness: () => Harness; open: (key: string) => Promise<Stream> } {
  let harness: Harness | undefined;
  const streams: Stream[] = [];
  beforeAll(async () => {
    harness = await startHarness({ eventsHeartbeatMs: interval });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await harness?.close();
  });
  const current = () => {
    if (!harness) throw new Error('harness not started');
    return harness;
  };
  return {
    harness: current,
    open: async (key) => {
      const stream = await openStream(current(), key);
      streams.push(stream);
      return stream;
    },
  };
}

describe('GET /events heartbeat', () => {
  const INTERVAL = 200;
  const server = serverWithHeartbeat(INTERVAL);

  it('sends hello with the interval, then a heartbeat comment every interval', async () => {
    const { key } = await resolveKey(server.harness(), 'events-heartbeat');
    const requestedAt = performance.now();
    const stream = await server.open(key);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await waitUntil('hello', () => stream.helloAt !== undefined, 5_000);
    expect(helloOf(stream).heartbeatMs).toBe(INTERVAL);

    await waitUntil('four heartbeats', () => stream.heartbeats.length >= 4, 20 * INTERVAL);
    expect(stream.ended).toBe(false);
    // Nothing but hello and heartbeats (no write happened in this org).
    expect(stream.text().startsWith('event: hello\n')).toBe(true);
    expect(stream.text().split('\n\n').filter((block) => block !== '' && !block.startsWith('event: hello\n') && block !== ': heartbeat')).toEqual([]);
    // On the interval, not faster: the k-th heartbeat cannot arrive before k intervals after the
    // request was sent (timers never fire early; 25 ms slack for libuv's cached loop time).
    stream.heartbeats.slice(0, 4).forEach((at, index) => expect(at - requestedAt).toBeGreaterThanOrEqual((index + 1) * INTERVAL - 25));
  });

  it('keeps the production default when no interval is given', async () => {
    const plain = await startHarness();
    try {
      const { key } = await resolveKey(plain, 'events-default');
      const stream = await openStream(plain, key);
      try {
        await waitUntil('hello', () => stream.helloAt !== undefined, 5_000);
        expect(HEARTBEAT_MS).toBe(15_000);
        expect(helloOf(stream).heartbeatMs).toBe(HEARTBEAT_MS);
        expect(stream.heartbeats).toEqual([]);
      } finally {
        stream.close();
      }
    } finally {
      await plain.close();
    }
  });
});

describe('GET /events after its key is deleted', () => {
  const INTERVAL = 300;
  const server = serverWithHeartbeat(INTERVAL);

  it('ends that stream at the next heartbeat; a stream of another key stays open', async () => {
    // In the admin key's own org: DELETE /api-keys/:id acts on the caller's org.
    const revoked = await resolveKey(server.harness(), 'default');
    const kept = await resolveKey(server.harness(), 'default');
    const doomed = await server.open(revoked.key);
    const other = await server.open(kept.key);
    expect([doomed.status, other.status]).toEqual([200, 200]);
    // One heartbeat (and key re-check) passed with the key still valid: the stream stayed open.
    await waitUntil('a heartbeat on both streams', () => doomed.heartbeats.length >= 1 && other.heartbeats.length >= 1, 20 * INTERVAL);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(doomed.ended).toBe(false);

    const heartbeatsBefore = doomed.heartbeats.length;
    const deleted = await raw(server.harness(), 'DELETE', `/api-keys/${revoked.id}`);
    expect(deleted.status).toBe(204);

    await waitUntil('the stream of the deleted key to end', () => doomed.ended, 20 * INTERVAL);
    // It ends right after the heartbeat that re-checked the key: that heartbeat is the last thing
    // sent, at most two heartbeats after the delete (two when a check that started before the
    // delete was still running at the first one).
    expect(doomed.heartbeats.length - heartbeatsBefore).toBeLessThanOrEqual(2);
    expect(doomed.text().endsWith(HEARTBEAT)).toBe(true);

    // The other key's stream is untouched: it gets heartbeats after the first one ended.
    const seen = other.heartbeats.length;
    await waitUntil('another heartbeat on the kept stream', () => other.heartbeats.length > seen, 20 * INTERVAL);
    expect(other.ended).toBe(false);

    // And the deleted key cannot open a new stream.
    const again = await server.open(revoked.key);
    expect(again.status).toBe(401);
  });
});

describe('GET /events when its key expires or the instance admin revokes it in another org', () => {
  const INTERVAL = 300;
  const server = serverWithHeartbeat(INTERVAL);

  it('ends the stream of a key that expires while it is open, within one heartbeat of the expiry', async () => {
    const harness = server.harness();
    const lifetimeMs = 6 * INTERVAL;
    const expiresAt = new Date(Date.now() + lifetimeMs);
    const expiresAtPerf = performance.now() + lifetimeMs;
    const key = await harness.cp.services.apiKeys.issue(harness.cp.bootstrap.defaultOrg.id, ['proxy:resolve'], 'short-lived', null, randomUUID(), expiresAt);
    expect(key.expiresAt).toBe(expiresAt.toISOString());
    const stream = await server.open(key.key);
    expect(stream.status).toBe(200);
    await waitUntil('a heartbeat before the expiry', () => stream.heartbeats.length >= 1, 20 * INTERVAL);
    expect(stream.ended).toBe(false);

    await waitUntil('the stream of the expired key to end', () => stream.ended, lifetimeMs + 20 * INTERVAL);
    // Counted in heartbeats, not time: at most two after the expiry (as for a deleted key).
    expect(stream.heartbeats.filter((at) => at >= expiresAtPerf).length).toBeLessThanOrEqual(2);
    const again = await raw(harness, 'GET', '/events', { key: key.key });
    expect(again.status).toBe(401);
    expect(again.json.message).toMatch(/expired/);
  });

  it('ends the stream of another org\'s key that the instance admin revokes', async () => {
    const harness = server.harness();
    const foreign = await resolveKey(harness, 'events-other-org');
    const stream = await server.open(foreign.key);
    expect(stream.status).toBe(200);
    expect((await raw(harness, 'DELETE', `/api-keys/${foreign.id}`)).status).toBe(204);
    await waitUntil('the stream of the revoked key to end', () => stream.ended, 20 * INTERVAL);
  });
});
