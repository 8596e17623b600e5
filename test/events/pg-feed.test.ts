import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PgChangeFeed, parseWireMessage, type PgChangeFeedOptions } from '../../src/events/pg-feed.js';
import type { ChangeEvent } from '../../src/events/types.js';
import { TEST_DATABASE_URL, adminQuery } from '../store/pg-test-db.js';
import { eventually } from '../helpers/eventually.js';

/** Waits for what a feed delivers: polled every 25 ms, bounded so a broken feed fails instead of hanging. */
const waitFor = (check: () => boolean, what: string, timeoutMs = 5_000) => eventually(check, what, timeoutMs, 25);

function recorder(feed: PgChangeFeed): ChangeEvent[] {
  const seen: ChangeEvent[] = [];
  feed.subscribe((event) => seen.push(event));
  return seen;
}

describe('PgChangeFeed', () => {
  // A channel per test, so parallel test files (and tests) on one database never cross-talk.
  let channel = '';
  const opened: PgChangeFeed[] = [];
  const rawClients: pg.Client[] = [];

  async function openFeed(options: PgChangeFeedOptions = {}): Promise<PgChangeFeed> {
    const feed = await PgChangeFeed.connect(TEST_DATABASE_URL, { channel, minReconnectDelayMs: 20, maxReconnectDelayMs: 200, ...options });
    opened.push(feed);
    return feed;
  }

  async function rawListener(): Promise<string[]> {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    rawClients.push(client);
    await client.connect();
    const payloads: string[] = [];
    client.on('notification', (message) => payloads.push(message.payload ?? ''));
    await client.query(`LISTEN "${channel}"`);
    return payloads;
  }

  function freshChannel(): void {
    channel = `veil_test_${randomBytes(6).toString('hex')}`;
  }

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((feed) => feed.close()));
    await Promise.allSettled(rawClients.splice(0).map((client) => client.end()));
  });

  it('delivers events between two feeds, and each feed its own event exactly once', async () => {
    freshChannel();
    const a = await openFeed();
    const b = await openFeed();
    const seenA = recorder(a);
    const seenB = recorder(b);
    const event: ChangeEvent = { kind: 'secret', orgId: randomUUID(), secretId: randomUUID() };

    a.publish(event);
    // Local delivery is synchronous: the publisher's own cache is dropped before publish returns.
    expect(seenA).toEqual([event]);
    await waitFor(() => seenB.length === 1, 'b to receive a\'s event');
    expect(seenB).toEqual([event]);

    // b answers; once a sees the answer, a's own earlier NOTIFY (committed before it) has been
    // processed too, so a would already have a duplicate if dedupe were broken.
    const answer: ChangeEvent = { kind: 'sandbox', orgId: randomUUID(), sandboxId: randomUUID() };
    b.publish(answer);
    await waitFor(() => seenA.length >= 2, 'a to receive b\'s answer');
    expect(seenA).toEqual([event, answer]);
    expect(seenB).toEqual([event, answer]);
  });

  it('sends only the event shape and an origin id over NOTIFY', async () => {
    freshChannel();
    const payloads = await rawListener();
    const feed = await openFeed();
    // Extra fields (as a careless caller might attach) must not leave the process.
    const sloppy = { kind: 'secret', orgId: 'o1', secretId: 's1', value: 'sk-live-SHOULD-NOT-LEAK' } as ChangeEvent;
    feed.publish(sloppy);
    await waitFor(() => payloads.length === 1, 'the raw listener to see the notification');
    const wire = JSON.parse(payloads[0]!) as Record<string, unknown>;
    expect(Object.keys(wire).sort()).toEqual(['event', 'origin']);
    expect(wire.event).toEqual({ kind: 'secret', orgId: 'o1', secretId: 's1' });
    expect(payloads[0]).not.toContain('SHOULD-NOT-LEAK');
  });

  it('ignores malformed notifications and keeps delivering valid ones', async () => {
    freshChannel();
    const errors: Error[] = [];
    const feed = await openFeed({ onError: (error) => errors.push(error) });
    const seen = recorder(feed);
    const valid = JSON.stringify({ origin: 'elsewhere', event: { kind: 'sandbox', orgId: 'o', sandboxId: 's' } });
    for (const payload of ['not json', '{"origin":"x","event":{"kind":"nope"}}', '{"event":{"kind":"reset"}}', valid]) {
      await adminQuery('SELECT pg_notify($1, $2)', [channel, payload]);
    }
    await waitFor(() => seen.length === 1, 'the valid notification');
    expect(seen).toEqual([{ kind: 'sandbox', orgId: 'o', sandboxId: 's' }]);
    expect(errors).toHaveLength(3);
  });

  it('delivers a local reset after its LISTEN connection is killed, then receives again', async () => {
    freshChannel();
    const applicationName = `veil_feed_${randomBytes(4).toString('hex')}`;
    const a = await openFeed({ applicationName });
    const b = await openFeed();
    const seenA = recorder(a);
    const seenB = recorder(b);

    const killed = await adminQuery(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [`${applicationName}:listen`],
    );
    expect(killed.rows).toEqual([{ ok: true }]);
    await waitFor(() => seenA.some((event) => event.kind === 'reset'), 'a reset after reconnecting');
    expect(seenA).toEqual([{ kind: 'reset' }]);
    // The reset is local: the other replica's subscribers are not flushed by it.
    expect(seenB).toEqual([]);

    // After the reconnect a's new LISTEN connection receives b's events again.
    const event: ChangeEvent = { kind: 'secret', orgId: 'o', secretId: 's' };
    for (let attempt = 0; attempt < 20 && !seenA.some((e) => e.kind === 'secret'); attempt++) {
      b.publish(event);
      await sleep(50);
    }
    expect(seenA.filter((e) => e.kind === 'secret').length).toBeGreaterThanOrEqual(1);
  });

  it('stops delivering to an unsubscribed listener and stays quiet after close', async () => {
    freshChannel();
    const a = await openFeed();
    const b = await openFeed();
    const kept: ChangeEvent[] = [];
    const dropped: ChangeEvent[] = [];
    b.subscribe((event) => kept.push(event));
    const unsubscribe = b.subscribe((event) => dropped.push(event));
    unsubscribe();
    a.publish({ kind: 'reset' });
    await waitFor(() => kept.length === 1, 'the reset to arrive');
    expect(dropped).toEqual([]);
    await b.close();
    a.publish({ kind: 'reset' });
    await a.close();
    expect(kept).toEqual([{ kind: 'reset' }]);
  });

  it('sends every NOTIFY published before close() (a CLI publishes its write and exits at once)', async () => {
    freshChannel();
    const payloads = await rawListener();
    const feed = await openFeed();
    const ids = Array.from({ length: 6 }, () => randomUUID());
    // More than the publisher pool's connections: some wait in its queue when close() starts.
    for (const secretId of ids) feed.publish({ kind: 'secret', orgId: 'org-1', secretId });
    await feed.close();
    await waitFor(() => payloads.length === ids.length, 'every notification');
    // Two pooled connections: the order between them is not fixed.
    const received = payloads.map((payload) => parseWireMessage(payload)?.event);
    expect(received).toHaveLength(ids.length);
    expect(received).toEqual(expect.arrayContaining(ids.map((secretId) => ({ kind: 'secret', orgId: 'org-1', secretId }))));
  });

  it('rejects when the database is unreachable and on an unsafe channel name', async () => {
    await expect(PgChangeFeed.connect('postgres://postgres@127.0.0.1:1/test')).rejects.toThrow();
    await expect(PgChangeFeed.connect(TEST_DATABASE_URL, { channel: 'bad"channel' })).rejects.toThrow(/channel/);
  });

  it('parses only well-formed wire messages', () => {
    expect(parseWireMessage(undefined)).toBeNull();
    expect(parseWireMessage('[]')).toBeNull();
    expect(parseWireMessage('{"origin":1,"event":{"kind":"reset"}}')).toBeNull();
    expect(parseWireMessage('{"origin":"o","event":{"kind":"secret","orgId":"x"}}')).toBeNull();
    expect(parseWireMessage('{"origin":"o","event":{"kind":"reset","extra":1}}')).toEqual({ origin: 'o', event: { kind: 'reset' } });
  });
});
