import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { toChangeEvent } from './shape.js';
import type { ChangeEvent, ChangeFeed } from './types.js';
import { Subscribers } from './subscribers.js';

export const DEFAULT_CHANGE_CHANNEL = 'veil_changes';

export interface PgChangeFeedOptions {
  /** NOTIFY channel; all replicas sharing a database must use the same one. */
  channel?: string;
  /** Shown in pg_stat_activity; the LISTEN connection gets the suffix ":listen". */
  applicationName?: string;
  /** Reconnect backoff of the LISTEN connection: doubles from min up to max, with jitter. */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Connection and NOTIFY failures (the feed keeps running); default: ignore. */
  onError?: (error: Error) => void;
}

/** What travels over NOTIFY: the event and the id of the feed that sent it. Never a value. */
interface WireMessage {
  origin: string;
  event: ChangeEvent;
}

const CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
/** A connect attempt that hangs (black-holed host) counts as failed and is retried with backoff. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A ChangeFeed shared by every replica on one PostgreSQL database via LISTEN/NOTIFY.
 *
 * publish() delivers to local subscribers synchronously (so this process's next request sees the
 * change) and NOTIFYs the others; our own notification comes back over LISTEN and is skipped by
 * its origin id, so each subscriber gets every event exactly once. When the LISTEN connection
 * drops, notifications sent meanwhile are lost, so after reconnecting the feed delivers
 * {kind:'reset'} locally and subscribers drop their caches.
 */
export class PgChangeFeed implements ChangeFeed {
  private readonly subscribers = new Subscribers((error) => this.reportError(error));
  private readonly origin = randomUUID();
  private readonly channel: string;
  private readonly publisher: pg.Pool;
  private listenClient: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectAttempt = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** NOTIFYs handed to the pool and not yet answered: close() waits for them. */
  private readonly sending = new Set<Promise<void>>();

  private constructor(
    private readonly url: string,
    private readonly options: PgChangeFeedOptions,
  ) {
    this.channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    if (!CHANNEL_PATTERN.test(this.channel)) throw new Error(`invalid NOTIFY channel name: ${JSON.stringify(this.channel)}`);
    this.publisher = new pg.Pool({
      connectionString: url,
      max: 2,
      application_name: this.applicationName(''),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A NOTIFY on a dead connection fails instead of hanging (close() waits for pending ones).
      query_timeout: CONNECT_TIMEOUT_MS,
    });
    // Idle pooled clients that die emit 'error' on the pool; the pool replaces them.
    this.publisher.on('error', (error) => this.reportError(error));
  }

  /** Connects the LISTEN connection; rejects if the database cannot be reached at all. */
  static async connect(url: string, options: PgChangeFeedOptions = {}): Promise<PgChangeFeed> {
    const feed = new PgChangeFeed(url, options);
    try {
      await feed.listen();
    } catch (error) {
      await feed.close();
      throw error;
    }
    return feed;
  }

  publish(event: ChangeEvent): void {
    this.subscribers.deliver(event);
    // Rebuilt from the known fields only, so nothing extra a caller attached can leave the process.
    const wireEvent = toChangeEvent(event);
    if (!wireEvent || this.closed) return;
    const message: WireMessage = { origin: this.origin, event: wireEvent };
    // Fire and forget: a failed NOTIFY only delays other replicas until their cache entries expire.
    const sent = this.publisher.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify(message)]).then(
      () => undefined,
      (error: Error) => this.reportError(error),
    );
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    return this.subscribers.add(listener);
  }

  /**
   * Stops listening and ends the connections, after the NOTIFYs already published went out (a
   * short-lived CLI process publishes its write and closes at once: the event must not be lost).
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.listenClient;
    this.listenClient = null;
    await Promise.allSettled([...this.sending]); // each settles within the connect and query timeouts
    await Promise.allSettled([client?.end(), this.publisher.end()]);
  }

  private applicationName(suffix: string): string {
    return `${this.options.applicationName ?? 'veil'}${suffix}`;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: this.applicationName(':listen'),
      // TCP keepalive lets a silently dead connection (e.g. a vanished NAT entry) surface as an error.
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    let ready = false;
    let lost = false;
    const onLost = (error?: Error): void => {
      // Before LISTEN succeeded the caller sees the failure as a rejection instead.
      // After it, 'error' and 'end' usually both fire for one loss: handle it once.
      if (!ready || lost) return;
      lost = true;
      if (error) this.reportError(error);
      if (this.listenClient === client) this.listenClient = null;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.receive(message.payload);
    });
    // Listeners go on before connect(): an 'error' emitted without one would crash the process.
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    ready = true;
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listenClient = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const min = this.options.minReconnectDelayMs ?? 100;
    const max = this.options.maxReconnectDelayMs ?? 5_000;
    const base = Math.min(max, min * 2 ** Math.min(this.reconnectAttempt, 20));
    const delay = base / 2 + Math.random() * (base / 2); // jitter: replicas do not reconnect in lockstep
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen().then(
        () => {
          if (this.closed) return;
          this.reconnectAttempt = 0;
          // Anything published while we were away is lost: tell subscribers to start over.
          this.subscribers.deliver({ kind: 'reset' });
        },
        (error: Error) => {
          this.reportError(error);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private receive(payload: string | undefined): void {
    const message = parseWireMessage(payload);
    if (!message) {
      this.reportError(new Error(`ignored a malformed notification on channel ${this.channel}`));
      return;
    }
    if (message.origin === this.origin) return; // already delivered locally by publish()
    this.subscribers.deliver(message.event);
  }


  private reportError(error: Error): void {
    this.options.onError?.(error);
  }
}

/** Validates a notification payload; anything not exactly a known event shape is dropped. */
export function parseWireMessage(payload: string | undefined): WireMessage | null {
  if (payload === undefined) return null;
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const { origin, event } = data as { origin?: unknown; event?: unknown };
  if (typeof origin !== 'string') return null;
  const normalized = toChangeEvent(event);
  return normalized ? { origin, event: normalized } : null;
}
