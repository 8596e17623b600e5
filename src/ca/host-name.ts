import { isIP } from 'node:net';
import { normalizeDestinationHost } from '../hosts/hosts.js';
import { CaError } from './errors.js';

/** What a leaf certificate is issued for: a DNS name (punycode, lowercase) or an IP literal. */
export interface CertificateHost {
  name: string;
  kind: 'dns' | 'ip';
}

const MAX_DNS_NAME = 253;
const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Normalizes a TLS servername / CONNECT host the way the allowlist does (lowercase, no trailing
 * dot, IDN as punycode, canonical IPv6) and refuses what cannot go into a SAN, so junk from a
 * client never reaches the certificate builder.
 */
export function certificateHostFor(servername: string): CertificateHost {
  let name: string;
  try {
    name = normalizeDestinationHost(String(servername));
  } catch {
    // e.g. an IPv6 literal with a zone id, which URL parsing refuses.
    throw new CaError(`cannot issue a certificate for invalid host ${JSON.stringify(String(servername).slice(0, 100))}`);
  }
  if (name.includes('%')) throw new CaError(`cannot issue a certificate for an address with a zone id (${JSON.stringify(name.slice(0, 100))})`);
  if (isIP(name) !== 0) return { name, kind: 'ip' };
  if (name === '') throw new CaError('cannot issue a certificate without a host name (no SNI and no CONNECT host)');
  if (name.length > MAX_DNS_NAME || !name.split('.').every((label) => DNS_LABEL.test(label))) {
    throw new CaError(`cannot issue a certificate for invalid host name ${JSON.stringify(name.slice(0, 100))}`);
  }
  return { name, kind: 'dns' };
}
