import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { PROXY_AUTHENTICATE } from './proxy-auth.js';

/**
 * Replies the proxy makes itself. Bodies are short text naming what went wrong (a secret's name and
 * the host at most, never a value).
 */
export function replyError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `veil proxy: ${message}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-veil-error': status === 407 ? 'proxy-auth' : 'proxy',
    ...headers,
  });
  res.end(body);
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  413: 'Content Too Large',
  421: 'Misdirected Request',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
  503: 'Service Unavailable',
};

/** A reply on a raw socket (CONNECT answers come before any HTTP machinery owns the socket). */
export function replyOnSocket(socket: Duplex, status: number, message: string, extraHeaders: string[] = []): void {
  const body = `veil proxy: ${message}\n`;
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extraHeaders,
    '',
    '',
  ].join('\r\n');
  socket.end(head + body);
}

export function replyProxyAuthRequiredOnSocket(socket: Duplex): void {
  replyOnSocket(socket, 407, 'proxy authentication required (Basic sandboxId:proxyToken)', [
    `Proxy-Authenticate: ${PROXY_AUTHENTICATE}`,
  ]);
}
