/**
 * Remote-mode `veil run`: a tiny forward proxy on 127.0.0.1 that passes everything to the shared
 * Veil proxy, adding the sandbox's `Proxy-Authorization`. The child then gets a proxy URL without
 * credentials, which every runtime can use (Java's HttpClient sends no proxy credentials from its
 * system properties) and which holds no token for the child to leak.
 *
 * CONNECT: the CONNECT line is re-sent upstream with the credentials, then bytes are relayed both
 * ways untouched (the upstream's "200 Connection established" reaches the client as is).
 * Plain requests (absolute-form): forwarded with the credentials added.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface Forwarder {
  host: string;
  port: number;
  close(): Promise<void>;
}

const CONNECT_TARGET = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export async function startCredentialForwarder(
  upstream: { host: string; port: number },
  credentials: { username: string; password: string },
): Promise<Forwarder> {
  const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers, 'proxy-authorization': authorization };
    const forwarded = httpRequest({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers, agent: false }, (reply: IncomingMessage) => {
      res.writeHead(reply.statusCode ?? 502, reply.statusMessage, reply.rawHeaders);
      reply.pipe(res);
    });
    forwarded.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
      res.end('veil: cannot reach the Veil proxy\n');
    });
    req.pipe(forwarded);
  });

  server.on('connection', track);
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    if (!CONNECT_TARGET.test(target)) {
      client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const up = connect({ host: upstream.host, port: upstream.port });
    track(up);
    const fail = () => {
      if (client.writable && up.bytesRead === 0) client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else client.destroy();
      up.destroy();
    };
    up.once('error', fail);
    client.once('error', () => up.destroy());
    up.once('connect', () => {
      up.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${authorization}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      client.pipe(up);
      up.pipe(client);
    });
    up.once('close', () => client.destroy());
    client.once('close', () => up.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('forwarder is not listening on a TCP port');
  return {
    host: '127.0.0.1',
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
