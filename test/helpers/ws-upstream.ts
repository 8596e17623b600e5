/**
 * WebSocket test upstreams and a client path through the proxy.
 * - startWsUpstream: a `ws` server (plain or TLS) on 127.0.0.1 recording each handshake (url,
 *   headers); its 101 answer echoes the Authorization header (X-Echoed-Authorization); it echoes
 *   every message back and, on connect, sends `hello` first. `/reject` answers 401 with a body
 *   quoting the Authorization header.
 * - connectThroughProxy: CONNECT to the proxy by hand, then hands the tunnel to the `ws` client
 *   (createConnection wraps it in TLS trusting Veil's CA).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { KeyAndCert } from './upstream.js';

export interface WsUpstream {
  port: number;
  handshakes: { url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

export async function startWsUpstream(tls?: KeyAndCert): Promise<WsUpstream> {
  const server: Server = tls ? createHttpsServer({ key: tls.keyPem, cert: tls.certPem }) : createHttpServer();
  const wss = new WebSocketServer({
    server,
    // `/reject` declines the upgrade with 401 and an error body quoting the Authorization header.
    verifyClient: (info, callback) => {
      if ((info.req.url ?? '').startsWith('/reject')) callback(false, 401, `invalid credentials: ${info.req.headers.authorization ?? '(none)'}`);
      else callback(true);
    },
  });
  const handshakes: WsUpstream['handshakes'] = [];
  // The 101 answer echoes the request's Authorization (response scrubbing of the handshake).
  wss.on('headers', (headers, req) => {
    if (req.headers.authorization !== undefined) headers.push(`X-Echoed-Authorization: ${req.headers.authorization}`);
  });
  wss.on('connection', (socket, req) => {
    handshakes.push({ url: req.url ?? '', headers: req.headers });
    socket.send('hello');
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    handshakes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens `CONNECT host:port` on the proxy; resolves with the tunnel socket after `200`. */
export function openTunnel(proxyPort: number, target: string, proxyUserinfo: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: proxyPort });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('CONNECT timed out'));
    }, 15_000);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: Basic ${Buffer.from(proxyUserinfo).toString('base64')}\r\n\r\n`,
    );
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      clearTimeout(timer);
      if (!received.startsWith('HTTP/1.1 200')) {
        socket.destroy();
        reject(new Error(`CONNECT answered ${received.split('\r\n')[0]}`));
        return;
      }
      socket.pause();
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/** A `ws` client for wss://host:port/path through the proxy (CONNECT + TLS trusting `caPem`). */
export async function wssThroughProxy(options: {
  proxyPort: number;
  proxyUserinfo: string;
  host: string;
  port: number;
  path: string;
  caPem: string;
  headers?: Record<string, string>;
}): Promise<WebSocket> {
  const tunnel = await openTunnel(options.proxyPort, `${options.host}:${options.port}`, options.proxyUserinfo);
  return new WebSocket(`wss://${options.host}:${options.port}${options.path}`, {
    headers: options.headers ?? {},
    handshakeTimeout: 15_000,
    createConnection: () => tlsConnect({ socket: tunnel, servername: options.host, ca: options.caPem }),
  } as ConstructorParameters<typeof WebSocket>[2]);
}

/** Resolves with the next `count` text messages of `socket`. */
export function nextMessages(socket: WebSocket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} messages arrived`)), 15_000);
    const onMessage = (data: Buffer) => {
      messages.push(data.toString('utf8'));
      if (messages.length === count) {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(messages);
      }
    };
    socket.on('message', onMessage);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
