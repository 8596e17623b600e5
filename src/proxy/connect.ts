import type { IncomingMessage, Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { normalizeDestinationHost } from '../hosts/hosts.js';
import { originOf, parseConnectTarget, type Destination } from './destination.js';
import type { Engine } from './engine.js';
import { identify } from './identify.js';
import { replyOnSocket, replyProxyAuthRequiredOnSocket } from './replies.js';

/** A TLS record of type handshake (0x16) with major version 3: a ClientHello is coming. */
function looksLikeTls(chunk: Buffer): boolean {
  return chunk.length >= 2 && chunk[0] === 0x16 && chunk[1] === 0x03;
}

/** Waits for the first bytes after `200 Connection Established`, without losing them. */
function peekFirstChunk(socket: Socket, head: Buffer, timeoutMs: number): Promise<Buffer | null> {
  if (head.length > 0) return Promise.resolve(head);
  return new Promise((resolve) => {
    const done = (chunk: Buffer | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(chunk);
    };
    const onData = (chunk: Buffer) => {
      socket.pause();
      done(chunk);
    };
    const onClose = () => done(null);
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/**
 * CONNECT host:port: authenticate, say 200, then look at the first bytes. TLS is terminated here
 * with a leaf from Veil's CA and the decrypted stream handed to the (non-listening) intercept
 * server; anything else is tunnelled raw (no substitution) or refused.
 */
export async function handleConnect(engine: Engine, intercept: Server, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  engine.detachedSockets.add(socket);
  socket.once('close', () => engine.detachedSockets.delete(socket));
  socket.on('error', (error) => engine.logger.debug({ err: error.message }, 'client socket error (CONNECT)'));
  socket.setNoDelay(true);

  const destination = parseConnectTarget(req.url);
  if (!destination) {
    replyOnSocket(socket, 400, 'CONNECT target must be host:port');
    return;
  }
  const identity = await identify(engine, req.headers);
  if (socket.destroyed) return;
  if (!identity.ok) {
    if (identity.status === 407) replyProxyAuthRequiredOnSocket(socket);
    else replyOnSocket(socket, identity.status, identity.message);
    return;
  }

  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const first = await peekFirstChunk(socket, head, engine.timeouts.tlsHandshakeMs);
  if (first === null || socket.destroyed) {
    socket.destroy();
    return;
  }
  socket.unshift(first);

  if (looksLikeTls(first)) {
    await interceptTls(engine, intercept, socket, destination, identity.sandboxId);
    return;
  }
  if (engine.nonTlsConnect === 'deny') {
    engine.logger.info({ sandboxId: identity.sandboxId, host: destination.host, port: destination.port }, 'refused non-TLS CONNECT');
    socket.destroy();
    return;
  }
  rawTunnel(engine, socket, destination, identity.sandboxId);
}

async function interceptTls(engine: Engine, intercept: Server, socket: Socket, destination: Destination, sandboxId: string): Promise<void> {
  let defaultContext: SecureContext;
  try {
    defaultContext = await engine.ca.secureContextFor(destination.host);
  } catch (error) {
    engine.logger.error({ host: destination.host, err: (error as Error).message }, 'could not mint a certificate');
    socket.destroy();
    return;
  }
  if (socket.destroyed) return;

  const tlsSocket = new TLSSocket(socket, {
    isServer: true,
    secureContext: defaultContext,
    ALPNProtocols: ['http/1.1'],
    // The leaf follows the SNI the client sent; a mismatch with the CONNECT host is answered 421 per request.
    SNICallback: (servername, callback) => {
      const name = normalizeDestinationHost(servername);
      if (name === destination.host) {
        callback(null, defaultContext);
        return;
      }
      engine.ca.secureContextFor(name).then(
        (context) => callback(null, context),
        (error: Error) => callback(error, undefined),
      );
    },
  });
  const handshakeTimer = setTimeout(() => tlsSocket.destroy(), engine.timeouts.tlsHandshakeMs);
  tlsSocket.once('secure', () => clearTimeout(handshakeTimer));
  tlsSocket.once('close', () => clearTimeout(handshakeTimer));
  tlsSocket.on('error', (error) => {
    engine.logger.debug({ host: destination.host, err: error.message }, 'intercepted TLS socket error');
    tlsSocket.destroy();
  });
  tlsSocket.setNoDelay(true);
  engine.tunnels.set(tlsSocket as unknown as Socket, { host: destination.host, port: destination.port, sandboxId, origin: originOf('https', destination.host, destination.port) });
  intercept.emit('connection', tlsSocket);
}

function rawTunnel(engine: Engine, socket: Socket, destination: Destination, sandboxId: string): void {
  const upstream = netConnect({
    host: destination.host,
    port: destination.port,
    lookup: engine.lookup,
    noDelay: true,
  });
  engine.detachedSockets.add(upstream);
  const closeBoth = () => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.once('close', () => {
    engine.detachedSockets.delete(upstream);
    socket.destroy();
  });
  socket.once('close', () => upstream.destroy());
  upstream.on('error', (error) => {
    engine.logger.info({ sandboxId, host: destination.host, port: destination.port, err: error.message }, 'raw tunnel upstream error');
    closeBoth();
  });
  for (const side of [socket, upstream]) {
    side.setTimeout(engine.timeouts.tunnelIdleMs, closeBoth);
  }
  upstream.once('connect', () => {
    engine.logger.info({ sandboxId, host: destination.host, port: destination.port }, 'raw tunnel (no substitution)');
  });
  socket.pipe(upstream);
  upstream.pipe(socket);
  socket.resume();
}
