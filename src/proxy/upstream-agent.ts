import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Agent } from 'undici';
import type { ResolvedTimeouts } from './options.js';

/**
 * System roots plus the extra bundle, parsed once into a SecureContext (~20 ms of CPU) that every
 * upstream connection shares, instead of tls.connect building it again from `ca` each time.
 * Verification of upstream certificates is always on.
 */
export function upstreamTrust(upstreamCaFile: string | undefined): SecureContext {
  const roots = [...rootCertificates];
  if (upstreamCaFile) roots.push(readFileSync(upstreamCaFile, 'utf8'));
  return createSecureContext({ ca: roots });
}

/**
 * A `lookup` for net/tls.connect that answers pinned hosts from the map and asks DNS for the rest.
 * Handles `all: true` (Node's happy-eyeballs path asks for every address).
 */
export function pinnedLookup(pins: ReadonlyMap<string, string>): LookupFunction {
  return (hostname, options, callback) => {
    const pinned = pins.get(hostname.toLowerCase().replace(/\.$/, ''));
    if (pinned === undefined) {
      dnsLookup(hostname, options, callback as never);
      return;
    }
    const family = isIP(pinned);
    if (options.all) {
      (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [
        { address: pinned, family },
      ]);
    } else {
      callback(null, pinned, family);
    }
  };
}

/**
 * One keep-alive Agent for every upstream; per-origin pools live inside it. Verification:
 * rejectUnauthorized and the default server identity check, against the shared trust context.
 */
export function createUpstreamAgent(options: {
  trust: SecureContext;
  lookup: LookupFunction;
  timeouts: ResolvedTimeouts;
}): Agent {
  return new Agent({
    connect: {
      secureContext: options.trust,
      lookup: options.lookup,
      noDelay: true,
      rejectUnauthorized: true,
      timeout: options.timeouts.upstreamConnectMs,
      // Our listeners on the client side are HTTP/1.1 only; keep upstream on HTTP/1.1 as well.
      ALPNProtocols: ['http/1.1'],
    },
    connectTimeout: options.timeouts.upstreamConnectMs,
    headersTimeout: options.timeouts.upstreamHeadersMs,
    bodyTimeout: options.timeouts.upstreamBodyMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
  });
}
