/** The trust files a child process under Veil needs, and the variables that point at them. */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolveCaLocation } from '../ca/location.js';
import { trustEnv, writeTrustFiles } from '../ca/trust.js';
import type { CertificateAuthority } from '../ca/types.js';
import { UsageError, type Env } from '../config/index.js';
import { writeWgetrc } from './wgetrc.js';

/** A CA certificate PEM and its SHA-256 fingerprint; throws UsageError naming `source` otherwise. */
export function caFromPem(pem: string, source: string): { certPem: string; fingerprint: string } {
  try {
    return { certPem: pem, fingerprint: new X509Certificate(pem).fingerprint256 };
  } catch {
    throw new UsageError(`${source} does not hold a PEM certificate`);
  }
}

/**
 * The CA certificate of a shared proxy, read from VEIL_CA_CERT_FILE, else `<VEIL_CA_DIR>/ca.pem`
 * (default CA dir). Throws UsageError naming the file when it is missing or not a certificate.
 */
export function caFromFile(env: Env): { certPem: string; fingerprint: string } {
  const file = env.VEIL_CA_CERT_FILE || resolveCaLocation({ dir: env.VEIL_CA_DIR || undefined }).certFile;
  if (!existsSync(file)) {
    throw new UsageError(`cannot find the proxy's CA certificate: set VEIL_CA_CERT_FILE to the PEM of the Veil CA your proxy uses (looked for ${file})`);
  }
  return caFromPem(readFileSync(file, 'utf8'), file);
}

/**
 * Writes (once, content-addressed) the CA file, merged bundle, Java truststore and wgetrc into
 * `dir`; returns the `trust` and `wgetrc` parts of a child's `VeilEnvInput`.
 */
export async function writeChildTrust(
  ca: Pick<CertificateAuthority, 'certPem' | 'fingerprint'>,
  dir: string,
): Promise<{ trust: Record<string, string>; wgetrc: string }> {
  const files = await writeTrustFiles(ca, dir);
  return {
    trust: trustEnv(files, { javaTrustStorePassword: files.javaTrustStorePassword }),
    wgetrc: await writeWgetrc(files.bundlePem),
  };
}
