/**
 * SseChangeFeed: a ChangeFeed fed by a control plane's `GET /events` stream (server-sent events),
 * for stand-alone proxies. It keeps one stream open, reconnects with backoff (jittered, doubling
 * from minReconnectDelayMs up to maxReconnectDelayMs) and treats silence longer than a few
 * heartbeats as a dead connection.
 *
 * Events sent while no stream was open are lost, so every successful (re)connect delivers
 * {kind:'reset'} to subscribers: the proxy drops its cache and looks everything up again. While
 * disconnected nothing is dropped, so the proxy's cache keeps serving (and stale-serving) as usual.
 */
import { request, type Dispatcher } from 'undici';
import { parseChangeEvent } from './shape.js';
import type { ChangeEvent, ChangeFeed } from './types.js';
import { Subscribers } from './subscribers.js';

export const EVENTS_PATH = '/events';

export interface SseHello {
  orgId: string;
  sandboxId: string | null;
  heartbeatMs: number;
}

export interface SseChangeFeedOptions {
  /** Control-plane base URL (already checked: https, or http to loopback). */
  baseUrl: string;
  /** API key with the proxy:resolve scope. */
  apiKey: string;
  dispatcher: Dispatcher;
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long to wait for the reply head. Default 10 s. */
  connectTimeoutMs?: number;
  /** Called after every successful (re)connect with the server's hello. */
  onConnect?: (hello: SseHello, reconnect: boolean) => void;
  /** Called when an open stream ends or fails, and for failed attempts; the feed keeps trying. */
  onError?: (error: Error) => void;
}

/** The server's heartbeat when hello does not say; silence of 3 heartbeats means the stream is dead. */
const DEFAULT_HEARTBEAT_MS = 15_000;
const MAX_LINE = 64 * 1024;

export class SseChangeFeed implements ChangeFeed {
  private readonly subscribers = new Subscribers((error) => this.options.onError?.(error));
  private readonly connectedWaiters = new Set<() => void>();
  private controller: AbortController | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private everConnected = false;
  private closed = false;
  /** True while a stream is open and has said hello. */
  connected = false;

  private constructor(private readonly options: SseChangeFeedOptions) {}

  /** Starts connecting in the background; use waitUntilConnected() to wait for the first stream. */
  static start(options: SseChangeFeedOptions): SseChangeFeed {
    const feed = new SseChangeFeed(options);
    feed.run();
    return feed;
  }

  /** Resolves true once a stream is open (hello received), false after `timeoutMs` or on close. */
  waitUntilConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.connectedWaiters.delete(onConnected);
        resolve(value);
      };
      const onConnected = () => done(this.connected);
      // Not unref()ed: at start-up this wait may be the only thing keeping the process alive.
      const timer = setTimeout(() => done(false), timeoutMs);
      this.connectedWaiters.add(onConnected);
    });
  }

  /** Delivers locally (a proxy has nothing to tell the control plane). */
  publish(event: ChangeEvent): void {
    this.subscribers.deliver(event);
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    return this.subscribers.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.controller?.abort();
    for (const waiter of [...this.connectedWaiters]) waiter();
  }

  private run(): void {
    if (this.closed) return;
    this.connectOnce().then(
      () => this.afterStream(new Error('event stream ended')),
      (error: unknown) => this.afterStream(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private afterStream(error: Error): void {
    this.connected = false;
    this.controller = null;
    if (this.closed) return;
    this.options.onError?.(error);
    const min = this.options.minReconnectDelayMs ?? 100;
    const max = this.options.maxReconnectDelayMs ?? 5_000;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt, 20));
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.run();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** One stream: resolves when it ends, rejects when it fails. */
  private async connectOnce(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    let idleTimer: NodeJS.Timeout | undefined;
    let idleMs = 3 * DEFAULT_HEARTBEAT_MS;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(new Error('event stream silent for too long')), idleMs);
      idleTimer.unref();
    };
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(`${this.options.baseUrl}${EVENTS_PATH}`, {
          method: 'GET',
          dispatcher: this.options.dispatcher,
          headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'text/event-stream' },
          signal: controller.signal,
          headersTimeout: this.options.connectTimeoutMs ?? 10_000,
          // Liveness is checked by the heartbeat timer below instead.
          bodyTimeout: 0,
        });
      } catch (error) {
        throw new Error(`event stream: control plane unreachable (${describe(error)})`);
      }
      if (response.statusCode !== 200) {
        await response.body.dump().catch(() => undefined);
        throw new Error(`event stream: control plane answered HTTP ${response.statusCode}`);
      }
      armIdle();
      const decoder = new TextDecoder();
      let buffer = '';
      let eventName = '';
      let data: string[] = [];
      const dispatch = () => {
        const name = eventName || 'message';
        const text = data.join('\n');
        eventName = '';
        data = [];
        if (name === 'hello') {
          const hello = parseHello(text);
          if (!hello) throw new Error('event stream: malformed hello');
          idleMs = Math.max(3 * hello.heartbeatMs, 1_000);
          armIdle();
          const reconnect = this.everConnected;
          this.everConnected = true;
          this.connected = true;
          this.attempt = 0;
          // Whatever happened before this stream was open is unknown: start over.
          this.subscribers.deliver({ kind: 'reset' });
          this.options.onConnect?.(hello, reconnect);
          for (const waiter of [...this.connectedWaiters]) waiter();
        } else if (name === 'change') {
          const event = parseChangeEvent(text);
          // An event we cannot read means we may have missed something: start over.
          this.subscribers.deliver(event ?? { kind: 'reset' });
        }
      };
      for await (const chunk of response.body) {
        armIdle();
        buffer += decoder.decode(chunk as Buffer, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') dispatch();
          else if (line.startsWith(':')) continue; // heartbeat comment
          else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') eventName = value;
            else if (field === 'data') data.push(value);
          }
        }
        if (buffer.length > MAX_LINE) throw new Error('event stream: line too long');
      }
    } catch (error) {
      if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(idleTimer);
      controller.abort();
    }
  }

}

function parseHello(text: string): SseHello | null {
  try {
    const data = JSON.parse(text) as Partial<SseHello>;
    if (typeof data.orgId !== 'string') return null;
    return {
      orgId: data.orgId,
      sandboxId: typeof data.sandboxId === 'string' ? data.sandboxId : null,
      heartbeatMs: typeof data.heartbeatMs === 'number' && data.heartbeatMs > 0 ? data.heartbeatMs : DEFAULT_HEARTBEAT_MS,
    };
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (typeof code === 'string') return code;
    if (cause && typeof cause.code === 'string') return cause.code;
    return error.message;
  }
  return String(error);
}
