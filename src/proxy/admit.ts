import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { ResolvedSecret } from '../resolver/types.js';
import { rewriteRequestHead } from '../substitution/head.js';
import { hostHeaderHost, normalizedHost, originOf, parseAbsoluteTarget, routedAuthority } from './destination.js';
import type { Engine, TunnelContext } from './engine.js';
import { countHeader, rawHeaderValue, setHeaderValue, stripHopByHop } from './hop-by-hop.js';
import { identify, lookupKnown } from './identify.js';
import type { SandboxMapping } from './mapping-cache.js';
import { PROXY_AUTHENTICATE } from './proxy-auth.js';

/** Why a request is refused before anything is forwarded: status + message (names and hosts only). */
export interface Refusal {
  ok: false;
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** A request that may go upstream: where, as whom, with its head already rewritten. */
export interface Admitted {
  ok: true;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  sandboxId: string;
  mapping: SandboxMapping;
  /** `scheme://host:port`, the undici origin. */
  origin: string;
  /** Rewritten origin-form target. */
  path: string;
  /** Rewritten headers, hop-by-hop removed. */
  rawHeaders: string[];
  /** Secrets whose value went into the head. */
  substituted: ResolvedSecret[];
  /** Log fields for this request (never a value). */
  log: Record<string, unknown>;
  /**
   * Where the per-request access line goes: in a tunnel a child logger that already holds the
   * tunnel's fields (serialised once per connection, not per line) with `fields` = the rest.
   */
  access: { logger: Logger; fields: Record<string, unknown> };
}

const NOT_A_PROXY_REQUEST =
  'this is an egress proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port';

/** `NAME (header), OTHER (url)`: which secret, and where it was found. */
export function namesWithPlace(items: readonly { name: string; where: string }[]): string {
  return [...new Set(items.map((item) => `${item.name} (${item.where})`))].join(', ');
}

export function uniqueNames(items: readonly { name: string }[]): string {
  return [...new Set(items.map((item) => item.name))].join(', ');
}

function refuse(status: number, message: string, headers?: Record<string, string>): Refusal {
  return headers ? { ok: false, status, message, headers } : { ok: false, status, message };
}

/**
 * Where the request goes, who sent it, and its rewritten head; or why it is refused. Shared by
 * ordinary requests and Upgrade requests, plain (absolute-form) or decrypted from a CONNECT tunnel.
 */
export async function admitRequest(engine: Engine, req: IncomingMessage): Promise<Admitted | Refusal> {
  const url = req.url ?? '';
  const tunnel: TunnelContext | undefined = engine.tunnels.get(req.socket);
  let scheme: 'http' | 'https';
  let host: string;
  let port: number;
  let path: string;
  let identityPromise;
  if (tunnel) {
    const servername = (req.socket as TLSSocket).servername;
    tunnel.sniMatches ??= typeof servername !== 'string' || servername === '' || normalizedHost(servername) === tunnel.host;
    if (!tunnel.sniMatches) {
      return refuse(421, `TLS server name ${String(servername)} does not match the CONNECT host ${tunnel.host}`);
    }
    path = url;
    if (!url.startsWith('/')) {
      const absolute = parseAbsoluteTarget(url, 'https');
      if (!absolute || absolute.host !== tunnel.host) return refuse(421, `request target does not match the CONNECT host ${tunnel.host}`);
      path = absolute.path;
    }
    scheme = 'https';
    host = tunnel.host;
    port = tunnel.port;
    identityPromise = lookupKnown(engine, tunnel.sandboxId, null);
  } else {
    if (url.startsWith('/') || url === '*') return refuse(400, NOT_A_PROXY_REQUEST);
    const absolute = parseAbsoluteTarget(url, 'http');
    if (!absolute) return refuse(400, 'request target must be an absolute http:// URL without userinfo (use CONNECT for https)');
    scheme = 'http';
    host = absolute.host;
    port = absolute.port;
    path = absolute.path;
    identityPromise = identify(engine, req.headers, req.socket);
  }

  if (countHeader(req.rawHeaders, 'host') > 1) {
    // Two Host headers could route differently at the upstream than the one we checked.
    return refuse(400, 'more than one Host header');
  }
  const hostHeader = rawHeaderValue(req.rawHeaders, 'host');
  if (hostHeader !== undefined) {
    const named = hostHeaderHost(hostHeader);
    if (named === null) return refuse(400, 'Host header must be a plain host[:port] (no userinfo, path, query, fragment or backslash)');
    if (named !== host) return refuse(421, `Host header does not match the destination host ${host}`);
  }

  const identity = await identityPromise;
  if (!identity.ok) {
    if (identity.status === 407) {
      return refuse(407, 'proxy authentication required (Basic sandboxId:proxyToken)', { 'proxy-authenticate': PROXY_AUTHENTICATE });
    }
    return refuse(identity.status, identity.message);
  }

  const headers = stripHopByHop(req.rawHeaders);
  // The upstream gets the authority Veil routed to, never the client's spelling of it (RFC 9112
  // §3.2.2); undici writes that same authority from the origin when the client sent no Host.
  if (hostHeader !== undefined) setHeaderValue(headers, 'host', routedAuthority(scheme, host, port));
  const rewritten = rewriteRequestHead({
    compiled: identity.mapping.compiled,
    host,
    target: path,
    rawHeaders: headers,
    allowUnrestricted: engine.allowUnrestricted,
  });
  const log = { sandboxId: identity.sandboxId, method: req.method, host, port, scheme };
  const origin = tunnel ? tunnel.origin : originOf(scheme, host, port);
  if (rewritten.unsafe.length > 0) {
    const names = namesWithPlace(rewritten.unsafe);
    engine.logger.warn({ ...log, secrets: names }, 'refused: secret value unsafe for a header or URL');
    return refuse(400, `secret ${names}: its value cannot be placed there safely (control characters such as CR, LF or NUL); request refused`);
  }
  if (rewritten.disallowed.length > 0) {
    const refusal = disallowedPlaceholders(engine, log, rewritten.disallowed, host);
    if (refusal) return refusal;
  }
  return {
    ok: true,
    scheme,
    host,
    port,
    sandboxId: identity.sandboxId,
    mapping: identity.mapping,
    origin,
    path: rewritten.target,
    rawHeaders: rewritten.rawHeaders,
    substituted: rewritten.substituted,
    log,
    access: tunnel ? { logger: tunnelLogger(engine, tunnel), fields: { method: req.method } } : { logger: engine.logger, fields: log },
  };
}

function tunnelLogger(engine: Engine, tunnel: TunnelContext): Logger {
  return (tunnel.accessLogger ??= engine.logger.child({ sandboxId: tunnel.sandboxId, host: tunnel.host, port: tunnel.port, scheme: 'https' }));
}

/**
 * Placeholders the host may not receive: 403 in block mode, else logged and forwarded unchanged.
 * Returns the refusal in block mode.
 */
export function disallowedPlaceholders(
  engine: Engine,
  log: Record<string, unknown>,
  disallowed: readonly { name: string; where: string }[],
  host: string,
): Refusal | null {
  const names = namesWithPlace(disallowed);
  if (engine.disallowed === 'block') {
    engine.logger.warn({ ...log, secrets: names }, 'blocked: placeholder sent to a host not on its allowlist');
    return refuse(403, `secret ${names} may not be sent to host ${host} (not on its allowlist, or that location is not enabled); request blocked`);
  }
  engine.logger.info({ ...log, secrets: names }, 'placeholder forwarded unchanged: host not on its allowlist');
  return null;
}
