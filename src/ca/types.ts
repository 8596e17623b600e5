import type { SecureContext } from 'node:tls';

/** Where the CA lives: `dir` (default `certs/`, env VEIL_CA_DIR) or explicit files (VEIL_CA_CERT_FILE/VEIL_CA_KEY_FILE). */
export interface CaLocation {
  dir?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * Veil's CA as the proxy uses it. Implemented in src/ca/authority.ts
 * (`loadOrCreateCertificateAuthority(location, options?)`).
 */
export interface CertificateAuthority {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  readonly certFile: string;
  /** SHA-256 fingerprint of the CA certificate, colon-separated hex. */
  readonly fingerprint: string;
  /**
   * A server SecureContext for `servername` (DNS name or IP literal): leaf signed by the CA, from an
   * lru cache; concurrent misses for one name share one minting. Never blocks the loop for long.
   */
  secureContextFor(servername: string): Promise<SecureContext>;
}
