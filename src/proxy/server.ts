import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleConnect } from './connect.js';
import type { Engine } from './engine.js';
import { handleRequest } from './forward.js';
import { handleUpgrade } from './upgrade.js';
import { MappingCache } from './mapping-cache.js';
import { resolveBodyLimits, resolveTimeouts, type ProxyOptions } from './options.js';
import { createUpstreamAgent, pinnedLookup, upstreamTrust } from './upstream-agent.js';
import { holdHeapHeadroom } from './heap-headroom.js';

export interface ProxyServer {
  /** The listening server on the proxy port. */
  readonly server: Server;
  /** The mapping cache (exposed for diagnostics and tests). */
  readonly cache: MappingCache;
  /** Starts listening; resolves to `http://host:port`. */
  listen(host?: string, port?: number): Promise<string>;
  /** Stops accepting, lets in-flight requests finish (up to timeouts.drainMs), then cuts the rest. */
  close(): Promise<void>;
}

function onClientError(error: Error & { code?: string }, socket: Socket): void {
  if (socket.writable && !socket.destroyed && error.code !== 'ECONNRESET') {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  socket.destroy();
}

export function createProxyServer(options: ProxyOptions): ProxyServer {
  const timeouts = resolveTimeouts(options.timeouts);
  const pins = options.resolve ?? new Map<string, string>();
  const cache = new MappingCache(options.resolver, options.feed, options.cache);
  const upstreamTls = upstreamTrust(options.upstreamCaFile);
  const lookup = pinnedLookup(pins);
  const agent = createUpstreamAgent({ trust: upstreamTls, lookup, timeouts });
  const engine: Engine = {
    cache,
    agent,
    upstreamTls,
    ca: options.ca,
    logger: options.logger,
    timeouts,
    lookup,
    sidecarSandboxId: options.sandboxId,
    disallowed: options.disallowed ?? 'pass',
    allowUnrestricted: options.allowUnrestrictedSecrets ?? false,
    nonTlsConnect: options.nonTlsConnect ?? 'tunnel',
    tunnels: new WeakMap(),
    detachedSockets: new Set(),
    body: resolveBodyLimits(options.body),
    inflight: { count: 0 },
  };

  const serverOptions = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.idleMs,
    // How often node:http checks headers/request timeouts (default 30 s would make short timeouts coarse).
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(timeouts.headersMs / 4))),
    noDelay: true,
  };
  const onRequest = (req: Parameters<typeof handleRequest>[1], res: Parameters<typeof handleRequest>[2]) => {
    handleRequest(engine, req, res).catch((error: unknown) => {
      engine.logger.error({ err: (error as Error).message }, 'proxy request handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' }).end();
      else res.destroy();
    });
  };
  // Decrypted CONNECT streams are handed to this server; it never listens on a port.
  const intercept = createServer(serverOptions, onRequest);
  // node:http starts its connection tracking (headers/request timeouts, closeIdleConnections) on
  // 'listening'. This server never listens, so start it explicitly; test/proxy/robustness checks
  // that a slow request head inside a TLS tunnel still gets 408. The socket idle timeout is a backstop.
  intercept.emit('listening');
  intercept.timeout = Math.max(timeouts.idleMs, timeouts.upstreamHeadersMs, timeouts.upstreamBodyMs) + 5_000;
  intercept.on('clientError', onClientError);
  // Expect: 100-continue is answered by handleRequest once the body is accepted, not up front.
  intercept.on('checkContinue', onRequest);
  const onUpgrade = (req: Parameters<typeof handleUpgrade>[1], socket: Parameters<typeof handleUpgrade>[2], head: Buffer) => {
    handleUpgrade(engine, req, socket, head).catch((error: unknown) => {
      engine.logger.error({ err: (error as Error).message }, 'upgrade handler failed');
      socket.destroy();
    });
  };
  intercept.on('upgrade', onUpgrade);

  const server = createServer(serverOptions, onRequest);
  server.on('clientError', onClientError);
  server.on('checkContinue', onRequest);
  server.on('upgrade', onUpgrade);
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  server.on('connect', (req, socket: Socket, head: Buffer) => {
    handleConnect(engine, intercept, req, socket, head).catch((error: unknown) => {
      engine.logger.error({ err: (error as Error).message }, 'CONNECT handler failed');
      socket.destroy();
    });
  });

  // Body Buffers would otherwise start a full GC every ~100 ms under upload load (heap-headroom.ts).
  const releaseHeadroom = options.heapHeadroom === false ? () => {} : holdHeapHeadroom();
  let closing: Promise<void> | null = null;
  return {
    server,
    cache,
    listen(host = '127.0.0.1', port = 0) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    close() {
      closing ??= drainAndClose(engine, server, intercept).finally(releaseHeadroom);
      return closing;
    },
  };
}

async function drainAndClose(engine: Engine, server: Server, intercept: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  intercept.closeIdleConnections();
  // Bounded wait for in-flight requests: poll, at most drainMs.
  const deadline = Date.now() + engine.timeouts.drainMs;
  while (engine.inflight.count > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  server.closeAllConnections();
  intercept.closeAllConnections();
  intercept.close(() => {}); // stops its timeout checker; it has no port to release
  for (const socket of engine.detachedSockets) socket.destroy();
  engine.detachedSockets.clear();
  engine.cache.close();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  await engine.agent.destroy().catch(() => {});
}

/** Creates and starts a proxy: what `veil proxy` and `veil serve` use. */
export async function startProxy(
  options: ProxyOptions & { host?: string; port?: number },
): Promise<{ url: string; close: () => Promise<void>; proxy: ProxyServer }> {
  const proxy = createProxyServer(options);
  const url = await proxy.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return { url, close: () => proxy.close(), proxy };
}
