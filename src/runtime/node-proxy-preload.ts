/**
 * Loaded into Node children with `NODE_OPTIONS=--import=<this file>` (see child-env.ts).
 *
 * 1. fetch: Node 20's built-in fetch ignores HTTP_PROXY/HTTPS_PROXY. undici's `setGlobalDispatcher`
 *    stores the dispatcher under `Symbol.for('undici.globalDispatcher.1')` on globalThis, the slot
 *    Node's bundled undici reads too: so built-in fetch, and any copy of the undici package, route
 *    through the EnvHttpProxyAgent, which honours HTTP(S)_PROXY and NO_PROXY (and sends
 *    Proxy-Authorization from credentials in the proxy URL).
 * 2. node:https: `https.globalAgent` is replaced by an agent that tunnels through HTTPS_PROXY with
 *    CONNECT (NO_PROXY respected), so `https.request`/`https.get` and libraries that use the global
 *    agent (node-fetch without an agent, ...) go through Veil too. Requests with their own agent are
 *    untouched. Plain http:// is left alone: a placeholder sent there directly stays a placeholder.
 *    (Node >= 22.21 / 24 does the same natively with NODE_USE_ENV_PROXY=1, which Veil also sets.)
 * Trust comes from NODE_EXTRA_CA_CERTS, read by Node at startup.
 *
 * Must never throw: a broken preload would stop every Node program in the sandbox. Errors never
 * quote the proxy URL (it may hold the sandbox's token).
 */
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

const env = process.env;
const httpsProxy = env.https_proxy || env.HTTPS_PROXY || env.http_proxy || env.HTTP_PROXY;

/** NO_PROXY entries: `*`, exact hosts or IPs, `.suffix` / `suffix` / `*.suffix` (subdomains too), optional :port. */
export function bypassesProxy(noProxy: string | undefined, host: string, port: number): boolean {
  if (!noProxy) return false;
  const target = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      if (bracketed[2]) entryPort = Number(bracketed[2]);
    } else if (entry.split(':').length === 2) {
      const [name, portText] = entry.split(':') as [string, string];
      entry = name;
      if (/^\d+$/.test(portText)) entryPort = Number(portText);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.startsWith('*.')) entry = entry.slice(1);
    const bare = entry.replace(/^\./, '');
    if (target === bare || target.endsWith(`.${bare}`)) return true;
  }
  return false;
}

type ConnectCallback = (error: Error | null, stream: Duplex) => void;

/** The node:https agent that opens each TLS connection inside a CONNECT tunnel. */
class ConnectTunnelAgent extends https.Agent {
  private readonly proxy: URL;
  private readonly authorization: string | undefined;

  constructor(proxy: URL) {
    super({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
    this.proxy = proxy;
    this.authorization =
      proxy.username !== '' || proxy.password !== ''
        ? `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`
        : undefined;
  }

  override createConnection(options: https.RequestOptions, callback?: ConnectCallback): Duplex | null | undefined {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    if (!callback || bypassesProxy(env.no_proxy ?? env.NO_PROXY, host, port)) return super.createConnection(options, callback);

    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const socket = net.connect({ host: this.proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(this.proxy.port || 80) });
    let done = false;
    const finish = (error: Error | null, result?: tls.TLSSocket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (error) socket.destroy();
      callback(error, result ?? socket);
    };
    const timer = setTimeout(() => finish(new Error('proxy CONNECT timed out')), 30_000);
    timer.unref();
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) finish(new Error('proxy CONNECT reply too long'));
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'));
      if (!status || status[1] !== '200') {
        finish(new Error(`proxy refused CONNECT to ${authority} (${status ? status[1] : 'bad reply'})`));
        return;
      }
      const rest = head.subarray(end + 4);
      socket.removeListener('data', onData);
      if (rest.length > 0) socket.unshift(rest);
      const { servername } = options as tls.ConnectionOptions;
      const secure = tls.connect({ ...(options as tls.ConnectionOptions), socket, ...(servername || net.isIP(host) ? {} : { servername: host }) });
      finish(null, secure);
    };
    socket.on('data', onData);
    socket.once('error', (error) => finish(new Error(`cannot reach the proxy: ${(error as NodeJS.ErrnoException).code ?? 'error'}`)));
    socket.once('close', () => finish(new Error('proxy closed the connection during CONNECT')));
    socket.once('connect', () => {
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${this.authorization ? `Proxy-Authorization: ${this.authorization}\r\n` : ''}\r\n`);
    });
    return undefined;
  }
}

if (httpsProxy) {
  try {
    setGlobalDispatcher(new EnvHttpProxyAgent());
  } catch (error) {
    process.emitWarning(`veil: could not route fetch through the proxy (${(error as Error).name})`);
  }
  try {
    const proxy = new URL(httpsProxy);
    if (proxy.protocol === 'http:') https.globalAgent = new ConnectTunnelAgent(proxy);
  } catch (error) {
    process.emitWarning(`veil: could not route node:https through the proxy (${(error as Error).name})`);
  }
}
