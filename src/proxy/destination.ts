import { normalizeDestinationHost } from '../hosts/hosts.js';

/**
 * Small memo for the pure host parsers below (a URL parse + IDNA per request otherwise). Bounded:
 * cleared when full, so a client sending endless new names costs memory of at most MEMO_MAX entries.
 */
const MEMO_MAX = 1024;
function memoized<T>(fn: (key: string) => T): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) => {
    let value = memo.get(key);
    if (value === undefined && !memo.has(key)) {
      value = fn(key);
      if (memo.size >= MEMO_MAX) memo.clear();
      memo.set(key, value);
    }
    return value as T;
  };
}

/** normalizeDestinationHost, memoized (SNI and Host values repeat on every request of a connection). */
export const normalizedHost = memoized(normalizeDestinationHost);

export interface Destination {
  /** Normalized (lowercase, punycode, no trailing dot, IPv6 without brackets). */
  host: string;
  port: number;
}

/** `host:port` of a CONNECT request (`[v6]:port` for IPv6); null when malformed. */
export function parseConnectTarget(target: string | undefined): Destination | null {
  if (!target) return null;
  const match = /^(\[[^\]]+\]|[^:[\]/@\s]+):(\d{1,5})$/.exec(target);
  if (!match) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  const host = normalizeDestinationHost(match[1]!);
  return host === '' ? null : { host, port };
}

export interface AbsoluteTarget extends Destination {
  /** Origin-form path + query, exactly as the client wrote it (no re-encoding). */
  path: string;
}

/**
 * Splits an absolute-form request target (`http://host:port/path?q`). The path is kept byte for byte
 * (WHATWG URL parsing would re-encode it); only the authority goes through the URL parser.
 */
export function parseAbsoluteTarget(url: string, scheme: 'http' | 'https'): AbsoluteTarget | null {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (!match || match[1]!.toLowerCase() !== scheme) return null;
  const authority = match[2]!;
  if (authority === '' || authority.includes('@')) return null;
  const parsed = (scheme === 'http' ? httpAuthority : httpsAuthority)(authority);
  if (!parsed) return null;
  const rest = match[3]!;
  const path = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
  return { host: parsed.host, port: parsed.port, path };
}

function parseAuthority(scheme: 'http' | 'https', authority: string): Destination | null {
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}://${authority}/`);
  } catch {
    return null;
  }
  const port = parsed.port === '' ? (scheme === 'http' ? 80 : 443) : Number(parsed.port);
  return { host: normalizeDestinationHost(parsed.hostname), port };
}
const httpAuthority = memoized((authority) => parseAuthority('http', authority));
const httpsAuthority = memoized((authority) => parseAuthority('https', authority));

/**
 * A Host header that is exactly `host[:port]`: letters, digits and `-._` (names and IPv4), or a
 * bracketed IPv6 literal, then an optional port of digits. Anything else (userinfo, a path, `#`,
 * `?`, a backslash, spaces, empty) is read differently by different parsers: a URL parser sees the
 * allowed host in `evil.test@api.example.com` while an upstream may route on the whole string.
 */
const PLAIN_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?$/;

/** Host header value without its port, normalized; null when it is not a plain `host[:port]`. */
export const hostHeaderHost = memoized((value: string): string | null => {
  if (!PLAIN_HOST.test(value)) return null;
  try {
    const host = normalizeDestinationHost(new URL(`http://${value}/`).hostname);
    return host === '' ? null : host;
  } catch {
    return null;
  }
});

/**
 * The authority Veil routed to, as the upstream gets it in Host (RFC 9112 §3.2.2: a proxy replaces
 * the client's Host with the target's authority): `host`, or `host:port` when not the scheme's default.
 */
export function routedAuthority(scheme: 'http' | 'https', host: string, port: number): string {
  return port === (scheme === 'http' ? 80 : 443) ? hostForUrl(host) : `${hostForUrl(host)}:${port}`;
}

/** Host as it goes in a URL: IPv6 literals in brackets. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `scheme://host:port`, as undici keys its connection pools. */
export function originOf(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${hostForUrl(host)}:${port}`;
}
