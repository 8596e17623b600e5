import type { Logger } from '../log/logger.js';
import type { CertificateAuthority } from '../ca/types.js';
import type { ChangeFeed } from '../events/types.js';
import type { SecretResolver } from '../resolver/types.js';
import type { MappingCacheOptions } from './mapping-cache.js';

export interface ProxyTimeouts {
  /** Client must send a complete request head within this. Default 30 s. */
  headersMs?: number;
  /** Client must send the whole request (head + body) within this. Default 300 s. */
  requestMs?: number;
  /** Idle keep-alive connection from a client is closed after this. Default 60 s. */
  idleMs?: number;
  /** TLS handshake of an intercepted CONNECT must finish within this. Default 10 s. */
  tlsHandshakeMs?: number;
  /** Raw (non-TLS) tunnels are closed after this long without traffic. Default 300 s. */
  tunnelIdleMs?: number;
  /** Upstream TCP + TLS connect. Default 10 s (-> 504). */
  upstreamConnectMs?: number;
  /** Upstream response head. Default 60 s (-> 504). */
  upstreamHeadersMs?: number;
  /** Longest silence while reading an upstream body. Default 300 s. */
  upstreamBodyMs?: number;
  /** How long close() lets in-flight requests finish before cutting them. Default 5 s. */
  drainMs?: number;
}

export interface ProxyOptions {
  resolver: SecretResolver;
  /** Change events invalidate the mapping cache. */
  feed?: ChangeFeed;
  ca: CertificateAuthority;
  logger: Logger;
  /** Sidecar mode: every request belongs to this sandbox and no credentials are needed. */
  sandboxId?: string;
  /** Placeholders the host may not receive: forward unchanged ('pass') or refuse with 403 ('block'). */
  disallowed?: 'pass' | 'block';
  /** Substitute secrets that have no host allowlist everywhere (Daytona's behaviour). */
  allowUnrestrictedSecrets?: boolean;
  /** Extra PEM bundle trusted for upstream TLS, in addition to the system roots. Verification is always on. */
  upstreamCaFile?: string;
  /** Pins: normalized host -> IP (see pinsFromEntries). */
  resolve?: Map<string, string>;
  /** CONNECT whose first bytes are not TLS: raw tunnel (no substitution) or refuse. */
  nonTlsConnect?: 'tunnel' | 'deny';
  timeouts?: ProxyTimeouts;
  cache?: MappingCacheOptions;
  body?: BodyLimits;
  /**
   * Keep V8's full-GC limit 64 MB above the live heap while the proxy runs (heap-headroom.ts).
   * Process-wide; default true. An application embedding the proxy can keep its own GC settings.
   */
  heapHeadroom?: boolean;
}

/**
 * Request bodies with a Content-Length that get a value substituted are collected to send the new
 * exact length: in memory up to `memoryLimit`, then in a temp file (0600, removed at once).
 * Chunked bodies stream in constant memory and are not limited.
 */
export interface BodyLimits {
  /** Default 8 MiB. */
  memoryLimit?: number;
  /** Bodies with a Content-Length above this (declared or after substitution) get 413. Default 2 GiB. */
  hardCap?: number;
  /** Where spill files go. Default os.tmpdir(). */
  tmpDir?: string;
}

export interface ResolvedBodyLimits {
  memoryLimit: number;
  hardCap: number;
  tmpDir: string | undefined;
}

export function resolveBodyLimits(limits: BodyLimits = {}): ResolvedBodyLimits {
  return {
    memoryLimit: limits.memoryLimit ?? 8 * 1024 * 1024,
    hardCap: limits.hardCap ?? 2 * 1024 * 1024 * 1024,
    tmpDir: limits.tmpDir,
  };
}

export type ResolvedTimeouts = Required<ProxyTimeouts>;

export function resolveTimeouts(timeouts: ProxyTimeouts = {}): ResolvedTimeouts {
  return {
    headersMs: timeouts.headersMs ?? 30_000,
    requestMs: timeouts.requestMs ?? 300_000,
    idleMs: timeouts.idleMs ?? 60_000,
    tlsHandshakeMs: timeouts.tlsHandshakeMs ?? 10_000,
    tunnelIdleMs: timeouts.tunnelIdleMs ?? 300_000,
    upstreamConnectMs: timeouts.upstreamConnectMs ?? 10_000,
    upstreamHeadersMs: timeouts.upstreamHeadersMs ?? 60_000,
    upstreamBodyMs: timeouts.upstreamBodyMs ?? 300_000,
    drainMs: timeouts.drainMs ?? 5_000,
  };
}
