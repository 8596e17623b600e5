/**
 * Byte-level HTTP for tests that need what ordinary clients and servers will not write: an upstream
 * (node:net, or node:tls for tunnels) that records the request bytes it got and answers with bytes
 * given verbatim, and a client (node:net, optionally TLS inside a CONNECT tunnel) that writes a
 * request as given and returns everything it read until the connection closed.
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { KeyAndCert } from './upstream.js';

export interface RawUpstream {
  port: number;
  /** The request head (up to the blank line) of every request that reached it, as latin1 text. */
  heads: string[];
  close(): Promise<void>;
}

/**
 * Answers every request (read up to its blank line; tests send no bodies) with `response` as it is,
 * then closes the connection. With `tls`, a TLS server with that certificate.
 */
export async function startRawUpstream(response: string | Buffer, tls?: KeyAndCert): Promise<RawUpstream> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end === -1) return;
      heads.push(seen.slice(0, end));
      seen = '';
      socket.end(typeof response === 'string' ? Buffer.from(response, 'latin1') : response);
    });
  };
  const server: Server = tls ? createTlsServer({ key: tls.keyPem, cert: tls.certPem }, onConnection) : createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Everything readable from `socket` until it closes (or `limitMs` passes: then what came so far). */
function readUntilClose(socket: Socket, limitMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => socket.destroy(), limitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** Writes `request` to the proxy on a fresh connection; returns all it answered until it closed. */
export async function rawRequest(proxyPort: number, request: string): Promise<string> {
  const socket = netConnect({ host: '127.0.0.1', port: proxyPort });
  const answer = readUntilClose(socket);
  socket.write(Buffer.from(request, 'latin1'));
  return answer;
}

/**
 * `CONNECT authority` with `proxyAuthorization`, then TLS to `servername` (trusting `caPem`) and
 * `request` written inside; returns the CONNECT reply line and all the TLS side answered until close.
 */
export async function rawTunnelRequest(
  proxyPort: number,
  authority: string,
  proxyAuthorization: string,
  caPem: string,
  request: string,
): Promise<{ connectStatus: string; answer: string }> {
  const socket = netConnect({ host: '127.0.0.1', port: proxyPort });
  socket.on('error', () => {});
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${proxyAuthorization}\r\n\r\n`);
  const connectReply = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(text));
  });
  const connectStatus = connectReply.split('\r\n', 1)[0] ?? '';
  if (!/ 200 /.test(connectStatus)) {
    socket.destroy();
    return { connectStatus, answer: '' };
  }
  const servername = authority.replace(/:\d+$/, '');
  const secure = tlsConnect({ socket, servername, ca: caPem });
  const answer = readUntilClose(secure as unknown as Socket);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  secure.write(Buffer.from(request, 'latin1'));
  return { connectStatus, answer: await answer };
}
