/**
 * Loaded into Node children with `NODE_OPTIONS=--import=<this file>` (see child-env.ts).
 *
 * 1. fetch: Node 20's built-in fetch ignores HTTP_PROXY/HTTPS_PROXY. undici's `setGlobalDispatcher`
 *    stores the dispatcher under `Symbol.for('undici.globalDispatcher.1')` on globalThis, the slot
 *    Node's bundled undici reads too: so built-in fetch, and any copy of the undici package, route
 *    through the EnvHttpProxyAgent, which honours HTTP(S)_PROXY and NO_PROXY (and sends
 *    Proxy-Authorization from credentials in the proxy URL).
 * 2. Every other TLS client: `tls.connect` is wrapped so that a connection to host:port (not one
 *    on a socket the caller already has, as proxy agents and STARTTLS protocols do) runs inside a
 *    CONNECT tunnel through HTTPS_PROXY (connect-tunnel.ts). node:https's global agent and every
 *    agent a library constructs (AWS SDK's NodeHttpHandler, stripe, got), `ws` (which passes its own
 *    `createConnection: tls.connect`), node:http2 and raw `tls.connect` all call it, so none of them
 *    can go around the proxy. Skipped: NO_PROXY matches, and well-known ports of TLS protocols that
 *    are not HTTP (databases, brokers, mail: Veil's interception speaks HTTP only). Plain http:// is
 *    left alone: a placeholder sent there directly stays a placeholder.
 *    (Node >= 22.21 / 24 tunnels node:https natively with NODE_USE_ENV_PROXY=1, which Veil also
 *    sets; its tunnel hands tls.connect a socket, so nothing is tunnelled twice.)
 * Trust comes from NODE_EXTRA_CA_CERTS, read by Node at startup.
 *
 * Must never throw: a broken preload would stop every Node program in the sandbox. Errors never
 * quote the proxy URL (it may hold the sandbox's token).
 */
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';
import { ConnectTunnel } from './connect-tunnel.js';

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

/**
 * Ports of TLS protocols that are not HTTP, reached directly: through Veil they would be
 * intercepted as HTTPS and break. LDAPS, SMTPS/submission, IMAPS, POP3S, DNS over TLS, MySQL,
 * AMQPS, Redis (TLS), MQTT over TLS, NATS, Kafka, MongoDB.
 */
const NON_HTTP_TLS_PORTS = new Set([465, 587, 636, 853, 993, 995, 3306, 4222, 5671, 6379, 6380, 8883, 9093, 27017]);

type ConnectArgs = Parameters<typeof tls.connect>;

/** tls.connect's three call forms (options | port, host?, options? | path, options?) as one options object. */
function connectOptions(args: unknown[]): tls.ConnectionOptions {
  const [first, second, third] = args;
  if (typeof first === 'object' && first !== null) return first as tls.ConnectionOptions;
  const extra = (value: unknown) => (typeof value === 'object' && value !== null ? (value as tls.ConnectionOptions) : {});
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { ...extra(second), path: first };
  if (typeof second === 'string') return { ...extra(third), port: Number(first), host: second };
  return { ...extra(second), port: Number(first) };
}

/** The destination of a tls.connect call that should go through the proxy, or null to leave it alone. */
export function tunnelledDestination(options: tls.ConnectionOptions, noProxy: string | undefined): { host: string; port: number } | null {
  if (options.socket || options.path) return null;
  const host = options.host ?? 'localhost';
  const port = Number(options.port ?? 443);
  if (!Number.isInteger(port) || port <= 0 || NON_HTTP_TLS_PORTS.has(port)) return null;
  if (bypassesProxy(noProxy, host, port)) return null;
  return { host, port };
}

function tunnelTlsConnect(proxy: URL): void {
  const original = tls.connect;
  const connectWith = original as (options: tls.ConnectionOptions, callback?: () => void) => tls.TLSSocket;
  const wrapped = function connect(...args: ConnectArgs): tls.TLSSocket {
    const options = connectOptions(args);
    const destination = tunnelledDestination(options, env.no_proxy ?? env.NO_PROXY);
    if (!destination) return original.apply(tls, args);
    const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    const socket = new ConnectTunnel({ proxy, ...destination });
    // The name the server sees stays the one the caller asked for (not the proxy's).
    const servername = options.servername ?? (net.isIP(destination.host) ? undefined : destination.host);
    const secure = connectWith.call(tls, { ...options, socket, ...(servername ? { servername } : {}) }, callback);
    socket.once('error', (error) => secure.destroy(error));
    return secure;
  };
  tls.connect = wrapped as typeof tls.connect;
  // ESM `import { connect } from 'node:tls'` bindings follow the module object only when synced.
  syncBuiltinESMExports();
}

if (httpsProxy) {
  try {
    setGlobalDispatcher(new EnvHttpProxyAgent());
  } catch (error) {
    process.emitWarning(`veil: could not route fetch through the proxy (${(error as Error).name})`);
  }
  try {
    const proxy = new URL(httpsProxy);
    if (proxy.protocol === 'http:') tunnelTlsConnect(proxy);
  } catch (error) {
    process.emitWarning(`veil: could not route TLS connections through the proxy (${(error as Error).name})`);
  }
}
