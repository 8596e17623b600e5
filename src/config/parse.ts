/** Pure parsers for single config values. Each throws UsageError naming the setting and the input. */
import { isIP } from 'node:net';
import { UsageError } from './errors.js';

export interface ListenAddress {
  host: string;
  /** 0 means "any free port" (tests, ephemeral deployments). */
  port: number;
}

export type DisallowedMode = 'pass' | 'block';
export const DISALLOWED_MODES: readonly DisallowedMode[] = ['pass', 'block'];
export type NonTlsConnectMode = 'tunnel' | 'deny';
export const NON_TLS_CONNECT_MODES: readonly NonTlsConnectMode[] = ['tunnel', 'deny'];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One static DNS override: connections to `host` (optionally only on `port`) go to `address`. */
export interface ResolveEntry {
  host: string;
  port?: number | undefined;
  address: string;
}

const show = (input: string): string => JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}...` : input);

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/** `host:port`, `[v6]:port`. Port 0 asks the OS for any free port. */
export function parseListen(setting: string, input: string): ListenAddress {
  const bad = () => new UsageError(`${setting}: expected host:port, got ${show(input)}`);
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(input);
  let host: string;
  let portText: string;
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (isIP(host) !== 6) throw bad();
  } else {
    const colon = input.lastIndexOf(':');
    if (colon <= 0) throw bad();
    host = input.slice(0, colon);
    portText = input.slice(colon + 1);
    // An unbracketed IPv6 address is ambiguous with its port: insist on brackets.
    if (host.includes(':') || /\s/.test(host)) throw bad();
  }
  const port = parsePort(portText);
  if (port === null) throw bad();
  return { host, port };
}

export function parseDisallowed(setting: string, input: string): DisallowedMode {
  if ((DISALLOWED_MODES as readonly string[]).includes(input)) return input as DisallowedMode;
  throw new UsageError(`${setting}: expected one of ${DISALLOWED_MODES.join('|')}, got ${show(input)}`);
}

export function parseNonTlsConnect(setting: string, input: string): NonTlsConnectMode {
  if ((NON_TLS_CONNECT_MODES as readonly string[]).includes(input)) return input as NonTlsConnectMode;
  throw new UsageError(`${setting}: expected one of ${NON_TLS_CONNECT_MODES.join('|')}, got ${show(input)}`);
}

export function parseMilliseconds(setting: string, input: string): number {
  if (!/^\d{1,9}$/.test(input.trim())) throw new UsageError(`${setting}: expected milliseconds (a whole number), got ${show(input)}`);
  return Number(input.trim());
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** A size in bytes: a whole number with an optional binary unit (`8MiB`, `512k`, `2G`). */
export function parseBytes(setting: string, input: string): number {
  const match = /^(\d{1,13})\s*([a-z]*)$/i.exec(input.trim());
  const unit = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) === 0) {
    throw new UsageError(`${setting}: expected a size in bytes such as 8388608, 8MiB or 2GiB, got ${show(input)}`);
  }
  return Number(match[1]) * unit;
}

export function parseLogLevel(setting: string, input: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(input)) return input as LogLevel;
  throw new UsageError(`${setting}: expected one of ${LOG_LEVELS.join('|')}, got ${show(input)}`);
}

/** Env booleans: 1/true/yes/on and 0/false/no/off (case-insensitive); empty means false. */
export function parseBoolean(setting: string, input: string): boolean {
  const lowered = input.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
  if (['', '0', 'false', 'no', 'off'].includes(lowered)) return false;
  throw new UsageError(`${setting}: expected 1 or 0 (true/false), got ${show(input)}`);
}

/**
 * Static DNS overrides, comma-separated. Each entry is `host=ip` (any port) or curl's
 * `host:port:ip` (only that port). IPv6 addresses may be bracketed: `host=[::1]`, `host:443:[::1]`.
 */
export function parseResolve(setting: string, input: string): ResolveEntry[] {
  const entries: ResolveEntry[] = [];
  for (const raw of input.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const bad = (why: string) => new UsageError(`${setting}: ${why} in ${show(item)}; expected host=ip or host:port:ip`);
    let host: string;
    let port: number | undefined;
    let address: string;
    const eq = item.indexOf('=');
    if (eq >= 0) {
      host = item.slice(0, eq);
      address = item.slice(eq + 1);
    } else {
      const first = item.indexOf(':');
      const second = first < 0 ? -1 : item.indexOf(':', first + 1);
      if (second < 0) throw bad('missing "=" or port');
      host = item.slice(0, first);
      const parsedPort = parsePort(item.slice(first + 1, second));
      if (parsedPort === null || parsedPort === 0) throw bad('bad port');
      port = parsedPort;
      address = item.slice(second + 1);
    }
    address = address.replace(/^\[(.*)\]$/, '$1');
    host = host.toLowerCase().replace(/\.$/, '');
    if (host === '' || /[\s/:@]/.test(host)) throw bad('bad host');
    if (isIP(address) === 0) throw bad('address is not an IP address');
    entries.push(port === undefined ? { host, address } : { host, port, address });
  }
  return entries;
}

/** postgres:// or postgresql:// URL. The message never echoes the URL: it may carry a password. */
export function parseDatabaseUrl(setting: string, input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UsageError(`${setting}: expected a postgres://user:password@host:port/db URL (value not shown)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`${setting}: expected a postgres:// or postgresql:// URL, got scheme "${url.protocol.replace(/:$/, '')}"`);
  }
  return input;
}

/** A proxy address split into its parts (see `parseProxyAddress`). */
export interface ProxyAddress {
  /** Host name or IP, IPv6 without brackets. */
  host: string;
  /** 80 when the URL names no port. */
  port: number;
  /** Percent-decoded user info, present when the URL carries any. */
  credentials?: { username: string; password: string } | undefined;
  /** `http://host[:port]` as the URL normalizes it (default port dropped), never with credentials. */
  origin: string;
}

/**
 * The one proxy URL parser: `http://[user:pass@]host[:port][/]`, no path, query or fragment.
 * Throws TypeError naming what is wrong (never echoing the input: it may carry a token).
 */
export function parseProxyAddress(input: string): ProxyAddress {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError('proxy URL is not a valid URL');
  }
  if (url.protocol !== 'http:') throw new TypeError('proxy URL must start with http://');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new TypeError('proxy URL must not have a path');
  const address: ProxyAddress = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 80 : Number(url.port),
    origin: url.origin,
  };
  if (url.username !== '' || url.password !== '') {
    address.credentials = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  }
  return address;
}

/** A proxy address as clients write it: `http://host:port`, no credentials, no path. */
export function parseProxyUrl(setting: string, input: string): string {
  const problem = () => new UsageError(`${setting}: expected http://host:port, got ${show(input)}`);
  let address: ProxyAddress;
  try {
    address = parseProxyAddress(input);
  } catch {
    throw problem();
  }
  if (address.credentials) throw problem();
  return address.origin;
}

/** http(s) base URL of a Veil control plane; a trailing slash is dropped. */
export function parseHttpUrl(setting: string, input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UsageError(`${setting}: expected an http(s) URL, got ${show(input)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${setting}: expected an http(s) URL, got ${show(input)}`);
  }
  if (url.username || url.password) throw new UsageError(`${setting}: credentials do not belong in the URL; use VEIL_API_KEY`);
  return input.replace(/\/+$/, '');
}

export function parseNonEmpty(setting: string, input: string): string {
  if (input.trim() === '') throw new UsageError(`${setting}: must not be empty`);
  return input;
}
