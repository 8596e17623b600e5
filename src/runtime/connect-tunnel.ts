/**
 * A Duplex that is a CONNECT tunnel through an HTTP proxy: writes wait until the proxy answered
 * `200`, then both directions pass through. Used by the Node preload as the `socket` of
 * `tls.connect`, so a TLS connection any library opens runs inside the tunnel without the caller
 * waiting for the CONNECT exchange (tls.connect must return a socket synchronously).
 *
 * Errors never quote the proxy URL: it may hold the sandbox's token.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';

const MAX_REPLY_HEAD = 16_384;
const CONNECT_TIMEOUT_MS = 30_000;

export interface TunnelTarget {
  /** The proxy (http: URL; user and password become Proxy-Authorization). */
  proxy: URL;
  host: string;
  port: number;
}

function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
}

export class ConnectTunnel extends Duplex {
  private readonly socket: net.Socket;
  private established = false;
  private pending: { chunk: Buffer; callback: (error?: Error | null) => void }[] = [];
  private head = Buffer.alloc(0);
  private readonly timer: NodeJS.Timeout;

  constructor({ proxy, host, port }: TunnelTarget) {
    super();
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const authorization = proxyAuthorization(proxy);
    this.socket = net.connect({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(proxy.port || 80) });
    this.socket.setNoDelay(true);
    this.timer = setTimeout(() => this.destroy(new Error('proxy CONNECT timed out')), CONNECT_TIMEOUT_MS);
    this.timer.unref();
    this.socket.once('connect', () => {
      this.socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${authorization ? `Proxy-Authorization: ${authorization}\r\n` : ''}\r\n`);
    });
    this.socket.on('data', (chunk: Buffer) => (this.established ? this.deliver(chunk) : this.onReplyBytes(chunk, authority)));
    this.socket.on('end', () => this.push(null));
    this.socket.once('error', (error: NodeJS.ErrnoException) => this.destroy(new Error(`cannot reach the proxy: ${error.code ?? 'error'}`)));
    this.socket.once('close', () => {
      if (!this.established) this.destroy(new Error('proxy closed the connection during CONNECT'));
      else if (!this.destroyed) this.destroy();
    });
  }

  private onReplyBytes(chunk: Buffer, authority: string): void {
    this.head = Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > MAX_REPLY_HEAD) this.destroy(new Error('proxy CONNECT reply too long'));
      return;
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.head.subarray(0, end).toString('latin1'));
    if (!status || status[1] !== '200') {
      this.destroy(new Error(`proxy refused CONNECT to ${authority} (${status ? status[1] : 'bad reply'})`));
      return;
    }
    clearTimeout(this.timer);
    this.established = true;
    const rest = this.head.subarray(end + 4);
    this.head = Buffer.alloc(0);
    if (rest.length > 0) this.deliver(rest);
    for (const { chunk: queued, callback } of this.pending) this.socket.write(queued, callback);
    this.pending = [];
  }

  private deliver(chunk: Buffer): void {
    if (!this.push(chunk)) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.established) this.socket.write(chunk, callback);
    else this.pending.push({ chunk, callback });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.socket.destroy();
    for (const { callback: queued } of this.pending) queued(error ?? new Error('tunnel closed'));
    this.pending = [];
    callback(error);
  }

  /** TLSSocket forwards these to its underlying stream when it has them. */
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  ref(): this {
    this.socket.ref();
    return this;
  }

  unref(): this {
    this.socket.unref();
    return this;
  }
}
