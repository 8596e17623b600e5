import type { SecureContext } from 'node:tls';
import type { LookupFunction, Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Agent } from 'undici';
import type { CertificateAuthority } from '../ca/types.js';
import type { MappingCache } from './mapping-cache.js';
import type { ResolvedBodyLimits, ResolvedTimeouts } from './options.js';

/** What a CONNECT established, remembered per intercepted TLS socket. */
export interface TunnelContext {
  /** Normalized CONNECT host. */
  host: string;
  port: number;
  sandboxId: string;
  /** `https://host:port`, the undici origin of every request in the tunnel. */
  origin: string;
  /** The TLS server name matched the CONNECT host (a connection's SNI never changes). */
  sniMatches?: boolean;
  /** The access log with this tunnel's fields bound once (pino child), created on first use. */
  accessLogger?: Logger;
}

/** Everything the request and CONNECT handlers share. */
export interface Engine {
  cache: MappingCache;
  agent: Agent;
  /** Roots trusted for upstream TLS, parsed once (the undici agent and Upgrade connections share it). */
  upstreamTls: SecureContext;
  ca: CertificateAuthority;
  logger: Logger;
  timeouts: ResolvedTimeouts;
  /**
   * The `lookup` every upstream connection uses (undici agent, raw CONNECT tunnels, Upgrade requests):
   * pinned names (`resolve`) from the map, DNS for the rest. Built once (pinnedLookup).
   */
  lookup: LookupFunction;
  sidecarSandboxId: string | undefined;
  disallowed: 'pass' | 'block';
  allowUnrestricted: boolean;
  nonTlsConnect: 'tunnel' | 'deny';
  tunnels: WeakMap<Socket, TunnelContext>;
  /** Client sockets we took over from node:http (CONNECT); destroyed on close. */
  detachedSockets: Set<Socket>;
  /** Body substitution limits (see ProxyOptions.body). */
  body: ResolvedBodyLimits;
  /** Requests being proxied right now (close() drains them). */
  inflight: { count: number };
}
