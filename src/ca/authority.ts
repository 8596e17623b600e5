/**
 * `loadOrCreateCertificateAuthority`: Veil's CA as the proxy uses it. Reads (or on first start
 * creates) the CA pair, generates the shared leaf key, and serves per-host SecureContexts.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { loadCa, type LoadedCa } from './ca-certificate.js';
import { readOrCreateCaFiles, type CaLogger } from './ca-files.js';
import { SecureContextCache, type ContextCacheStats } from './context-cache.js';
import { certificateHostFor } from './host-name.js';
import { DEFAULT_LEAF_VALIDITY_DAYS, LeafMinter } from './leaf.js';
import { resolveCaLocation } from './location.js';
import type { CaLocation, CertificateAuthority } from './types.js';

export interface CertificateAuthorityOptions {
  logger?: CaLogger | undefined;
  /** Leaf certificate lifetime; default 7 days (at most 397: Apple's 398-day limit). */
  leafValidityDays?: number | undefined;
  /** How many host SecureContexts to keep; default 1000. */
  cacheSize?: number | undefined;
}

const DAY_MS = 86_400_000;
const DEFAULT_CACHE_SIZE = 1000;

/** The CertificateAuthority contract plus what `veil ca` and diagnostics show. */
export interface LocalCertificateAuthority extends CertificateAuthority {
  readonly keyFile: string;
  /** Subject of the CA certificate, e.g. `CN=Veil Local CA 1a2b3c4d\nO=Veil`. */
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** True when this call created the CA files. */
  readonly created: boolean;
  stats(): ContextCacheStats;
}

/**
 * Leaf only, no CA in the chain: the CA is a trust anchor the client already has, and sending it
 * would only add bytes to every handshake (RFC 8446 4.4.2 lets a server omit the root).
 */
function secureContextFactory(minter: LeafMinter): (host: string) => Promise<SecureContext> {
  return async (host) => {
    const certPem = await minter.mint(certificateHostFor(host));
    return createSecureContext({ key: minter.keyPem, cert: certPem, minVersion: 'TLSv1.2' });
  };
}

/** Cache entries expire long before their leaf does: a cached context never serves an expired leaf. */
function cacheTtlMs(leafValidityDays: number): number {
  return Math.min(DAY_MS, (leafValidityDays * DAY_MS) / 4);
}

export async function loadOrCreateCertificateAuthority(
  location: CaLocation = {},
  options: CertificateAuthorityOptions = {},
): Promise<LocalCertificateAuthority> {
  const resolved = resolveCaLocation(location);
  const files = await readOrCreateCaFiles(resolved, options.logger);
  const ca: LoadedCa = loadCa(files.certPem, files.keyPem, resolved);
  const leafValidityDays = options.leafValidityDays ?? DEFAULT_LEAF_VALIDITY_DAYS;
  const validTo = new Date(ca.x509.validTo);
  const minter = await LeafMinter.create(ca.issuer, validTo, leafValidityDays);
  const contexts = new SecureContextCache(secureContextFactory(minter), {
    max: options.cacheSize ?? DEFAULT_CACHE_SIZE,
    ttlMs: cacheTtlMs(leafValidityDays),
  });
  if (validTo.getTime() - Date.now() < 30 * DAY_MS) {
    options.logger?.warn({ certFile: resolved.certFile, validTo: ca.x509.validTo }, 'the Veil CA certificate expires within 30 days');
  }
  return {
    certPem: ca.certPem,
    certFile: resolved.certFile,
    keyFile: resolved.keyFile,
    fingerprint: ca.x509.fingerprint256,
    subject: ca.x509.subject,
    validFrom: new Date(ca.x509.validFrom),
    validTo,
    created: files.created,
    // Normalized here too so `Example.COM.` and `example.com` share one cache entry.
    secureContextFor: (servername) => {
      let host: string;
      try {
        host = certificateHostFor(servername).name;
      } catch (error) {
        return Promise.reject(error);
      }
      return contexts.get(host);
    },
    stats: () => contexts.stats(),
  };
}
