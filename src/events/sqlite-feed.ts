import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { parseChangeEvent, toChangeEvent } from './shape.js';
import type { ChangeEvent, ChangeFeed } from './types.js';
import { Subscribers } from './subscribers.js';

/** The table (created by SQLite migration 2) through which processes on one file share events. */
export const CHANGE_EVENTS_TABLE = 'change_events';

export interface SqliteChangeFeedOptions {
  /** How often `PRAGMA data_version` is checked for other connections' commits. Default 100 ms. */
  pollIntervalMs?: number;
  /** Rows older than this are deleted when this feed publishes. Default 60 s. */
  retentionMs?: number;
  /** How long a publish waits for the write lock. Default 5 s. */
  busyTimeoutMs?: number;
  /** Read/insert failures (the feed keeps running); default: ignore. */
  onError?: (error: Error) => void;
}

type Row = { id: number; origin: string; event: string };

/**
 * A ChangeFeed shared by every process on one SQLite file (`veil serve` processes on one data
 * dir, and the CLI writing directly to it).
 *
 * publish() delivers to local subscribers synchronously and appends the event (ids and kinds
 * only, rebuilt by toChangeEvent: never a value) to `change_events`, tagged with this feed's
 * random origin id. The insert is synchronous, so a CLI process that publishes and exits has
 * written its rows before it exits. Each feed polls `PRAGMA data_version` on its own connection
 * (it changes only when another connection commits) with an unref'd timer, and when it changed
 * reads the rows after the last one seen, skipping its own origin. A new feed starts at the
 * current last row (no replay). Publishing prunes rows older than the retention; a feed that has
 * not read for about that long (a suspended process) may have missed pruned rows, so it delivers
 * {kind:'reset'} instead.
 */
export class SqliteChangeFeed implements ChangeFeed {
  private readonly subscribers = new Subscribers((error) => this.reportError(error));
  private readonly origin = randomUUID();
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly readAfter: Database.Statement;
  private readonly retentionMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastId: number;
  private lastDataVersion: number;
  private lastReadAt: number;
  private closed = false;

  constructor(
    file: string,
    private readonly options: SqliteChangeFeedOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? 60_000;
    // Its own connection: data_version only moves for commits made by other connections.
    this.db = new Database(file, { fileMustExist: true });
    try {
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5_000))}`);
      this.insert = this.db.prepare(`INSERT INTO ${CHANGE_EVENTS_TABLE} (origin, event, created_at) VALUES (?, ?, ?)`);
      this.prune = this.db.prepare(`DELETE FROM ${CHANGE_EVENTS_TABLE} WHERE created_at < ?`);
      this.readAfter = this.db.prepare(`SELECT id, origin, event FROM ${CHANGE_EVENTS_TABLE} WHERE id > ? ORDER BY id LIMIT 1000`);
      // Version first, then the max id: a commit between the two is read again, never missed.
      this.lastDataVersion = this.dataVersion();
      const row = this.db.prepare(`SELECT MAX(id) AS id FROM ${CHANGE_EVENTS_TABLE}`).get() as { id: number | null };
      this.lastId = row.id ?? 0;
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.lastReadAt = Date.now();
    this.timer = setInterval(() => this.poll(), Math.max(10, options.pollIntervalMs ?? 100));
    this.timer.unref();
  }

  publish(event: ChangeEvent): void {
    this.subscribers.deliver(event);
    const stored = toChangeEvent(event);
    if (!stored || this.closed) return;
    try {
      const now = Date.now();
      this.insert.run(this.origin, JSON.stringify(stored), now);
      this.prune.run(now - this.retentionMs);
    } catch (error) {
      // Other processes then see the change when their cache entries expire.
      this.reportError(error);
    }
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    return this.subscribers.add(listener);
  }

  /** Stops polling and closes the connection. Published rows are already committed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.db.open) this.db.close();
  }

  /** One check; exposed for tests (the timer calls it). */
  poll(): void {
    if (this.closed) return;
    try {
      const now = Date.now();
      const version = this.dataVersion();
      if (version === this.lastDataVersion) {
        this.lastReadAt = now;
        return;
      }
      // Rows we never read may have been pruned meanwhile (a suspended process): start over.
      const gap = now - this.lastReadAt > this.retentionMs / 2;
      this.lastDataVersion = version;
      this.lastReadAt = now;
      const pending: ChangeEvent[] = [];
      for (;;) {
        const rows = this.readAfter.all(this.lastId) as Row[];
        for (const row of rows) {
          this.lastId = row.id;
          if (row.origin === this.origin) continue; // already delivered locally by publish()
          pending.push(parseChangeEvent(row.event) ?? { kind: 'reset' });
        }
        if (rows.length < 1000) break;
      }
      if (gap) this.subscribers.deliver({ kind: 'reset' });
      else for (const event of pending) this.subscribers.deliver(event);
    } catch (error) {
      this.reportError(error);
    }
  }

  private dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }


  private reportError(error: unknown): void {
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
  }
}
