import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteChangeFeed, type SqliteChangeFeedOptions } from '../../src/events/sqlite-feed.js';
import type { ChangeEvent } from '../../src/events/types.js';
import { openSqliteRepository } from '../../src/store/sqlite.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { eventually } from '../helpers/eventually.js';

/** Waits for what a feed delivers: polled every 10 ms, bounded so a broken feed fails instead of hanging. */
const waitFor = (check: () => boolean, what: string, timeoutMs = 2_000) => eventually(check, what, timeoutMs, 10);

function recorder(feed: SqliteChangeFeed): ChangeEvent[] {
  const seen: ChangeEvent[] = [];
  feed.subscribe((event) => seen.push(event));
  return seen;
}

describe('SqliteChangeFeed', () => {
  const dirs: Array<{ remove(): void }> = [];
  const opened: SqliteChangeFeed[] = [];
  const raw: Database.Database[] = [];

  /** A migrated veil.db in a fresh temp dir (the repository creates the change_events table). */
  async function freshFile(): Promise<string> {
    const dir = makeTempDir('veil-sqlite-feed-');
    dirs.push(dir);
    const file = join(dir.path, 'veil.db');
    const repository = await openSqliteRepository(file);
    await repository.close();
    return file;
  }

  function openFeed(file: string, options: SqliteChangeFeedOptions = {}): SqliteChangeFeed {
    const feed = new SqliteChangeFeed(file, { pollIntervalMs: 50, ...options });
    opened.push(feed);
    return feed;
  }

  function rows(file: string): Array<Record<string, unknown>> {
    const db = new Database(file, { readonly: true });
    raw.push(db);
    return db.prepare('SELECT * FROM change_events ORDER BY id').all() as Array<Record<string, unknown>>;
  }

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((feed) => feed.close()));
    for (const db of raw.splice(0)) db.close();
    for (const dir of dirs.splice(0)) dir.remove();
  });

  it('delivers an event published on one feed to the other, and to the publisher exactly once', async () => {
    const file = await freshFile();
    const a = openFeed(file);
    const b = openFeed(file);
    const seenA = recorder(a);
    const seenB = recorder(b);
    const event: ChangeEvent = { kind: 'secret', orgId: 'org-1', secretId: 'sec-1' };
    a.publish(event);
    expect(seenA).toEqual([event]); // synchronous, in-process
    const pickupMs = await waitFor(() => seenB.length > 0, 'B to see the event', 1_000);
    expect(seenB).toEqual([event]);
    b.publish({ kind: 'sandbox', orgId: 'org-1', sandboxId: 'box-1' });
    await waitFor(() => seenA.length > 1, 'A to see B’s event', 1_000);
    await sleep(200); // several more polls: nothing is delivered twice
    expect(seenA).toEqual([event, { kind: 'sandbox', orgId: 'org-1', sandboxId: 'box-1' }]);
    expect(seenB).toEqual([event, { kind: 'sandbox', orgId: 'org-1', sandboxId: 'box-1' }]);
    expect(pickupMs).toBeLessThan(1_000);
  });

  it('starts at the current last row: no replay of earlier events', async () => {
    const file = await freshFile();
    const a = openFeed(file);
    a.publish({ kind: 'secret', orgId: 'o', secretId: 'old' });
    const late = openFeed(file);
    const seenLate = recorder(late);
    a.publish({ kind: 'secret', orgId: 'o', secretId: 'new' });
    await waitFor(() => seenLate.length > 0, 'the late feed to see the new event');
    await sleep(150);
    expect(seenLate).toEqual([{ kind: 'secret', orgId: 'o', secretId: 'new' }]);
  });

  it('stores ids and kinds only: nothing else a publisher attached reaches the table', async () => {
    const file = await freshFile();
    const a = openFeed(file);
    const value = 'sk-live-SECRET-VALUE-9f8e7d6c';
    a.publish({ kind: 'secret', orgId: 'org-1', secretId: 'sec-1', value, name: 'OPENAI_KEY' } as unknown as ChangeEvent);
    a.publish({ kind: 'bogus', value } as unknown as ChangeEvent);
    const stored = rows(file);
    expect(stored).toHaveLength(1);
    expect(JSON.parse(stored[0]!.event as string)).toEqual({ kind: 'secret', orgId: 'org-1', secretId: 'sec-1' });
    expect(Object.keys(stored[0]!).sort()).toEqual(['created_at', 'event', 'id', 'origin']);
    for (const row of stored) expect(JSON.stringify(row)).not.toContain(value);
    expect(JSON.stringify(stored)).not.toContain('OPENAI_KEY');
  });

  it('ignores a malformed row by telling subscribers to start over', async () => {
    const file = await freshFile();
    const b = openFeed(file);
    const seenB = recorder(b);
    const db = new Database(file);
    raw.push(db);
    db.prepare('INSERT INTO change_events (origin, event, created_at) VALUES (?, ?, ?)').run('someone', '{"kind":"secret"}', Date.now());
    await waitFor(() => seenB.length > 0, 'B to react to the malformed row');
    expect(seenB).toEqual([{ kind: 'reset' }]);
  });

  it('prunes rows older than the retention when publishing', async () => {
    const file = await freshFile();
    // Polls every 50 ms, far inside half the retention: B never has a gap (which would be a reset).
    const a = openFeed(file, { retentionMs: 1_000 });
    const b = openFeed(file, { retentionMs: 1_000 });
    const seenB = recorder(b);
    for (let i = 0; i < 20; i++) a.publish({ kind: 'secret', orgId: 'o', secretId: `s${i}` });
    expect(rows(file)).toHaveLength(20);
    await waitFor(() => seenB.length === 20, 'B to see all 20');
    await sleep(1_100);
    a.publish({ kind: 'secret', orgId: 'o', secretId: 'last' });
    const left = rows(file);
    expect(left).toHaveLength(1);
    expect(JSON.parse(left[0]!.event as string)).toEqual({ kind: 'secret', orgId: 'o', secretId: 'last' });
    // Ids keep growing after the table was emptied, so B still sees what comes next.
    await waitFor(() => seenB.length === 21, 'B to see the event after pruning');
    expect(seenB.at(-1)).toEqual({ kind: 'secret', orgId: 'o', secretId: 'last' });
  });

  it('delivers a reset when it has not read for longer than half the retention (rows may be gone)', async () => {
    const file = await freshFile();
    // No timer polls in this test's window: poll() is called by hand.
    const b = openFeed(file, { retentionMs: 200, pollIntervalMs: 60_000 });
    const a = openFeed(file, { retentionMs: 200, pollIntervalMs: 60_000 });
    const seenB = recorder(b);
    await sleep(150);
    a.publish({ kind: 'secret', orgId: 'o', secretId: 'missed' });
    b.poll();
    expect(seenB).toEqual([{ kind: 'reset' }]);
    a.publish({ kind: 'secret', orgId: 'o', secretId: 'next' });
    b.poll();
    expect(seenB).toEqual([{ kind: 'reset' }, { kind: 'secret', orgId: 'o', secretId: 'next' }]);
  });

  it('after close() nothing is delivered and publish only reaches local subscribers', async () => {
    const file = await freshFile();
    const a = openFeed(file);
    const b = openFeed(file);
    const seenB = recorder(b);
    await b.close();
    a.publish({ kind: 'secret', orgId: 'o', secretId: 's' });
    await sleep(200);
    expect(seenB).toEqual([]);
    const seenClosed = recorder(b);
    b.publish({ kind: 'secret', orgId: 'o', secretId: 'local' });
    expect(seenClosed).toEqual([{ kind: 'secret', orgId: 'o', secretId: 'local' }]);
    expect(rows(file)).toHaveLength(1);
    await b.close(); // idempotent
  });

  it('a process that publishes and exits has written its row; close() leaves nothing keeping a process alive', async () => {
    const file = await freshFile();
    const b = openFeed(file);
    const seenB = recorder(b);
    const root = resolve(import.meta.dirname, '../..');
    // A child (the built feed: `npm run build` first, like the e2e tests) that opens a feed,
    // publishes, and never closes it: the unref'd timer must not hold the process.
    const script = `
      import { SqliteChangeFeed } from ${JSON.stringify(join(root, 'dist/events/sqlite-feed.js'))};
      const feed = new SqliteChangeFeed(${JSON.stringify(file)});
      feed.subscribe(() => {});
      feed.publish({ kind: 'secret', orgId: 'o', secretId: 'from-child' });
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    await waitFor(() => seenB.length > 0, 'the child’s event');
    expect(seenB).toEqual([{ kind: 'secret', orgId: 'o', secretId: 'from-child' }]);
  });
});
