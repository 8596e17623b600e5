import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { certificatesFromPem } from './der.js';

/** Where distributions keep the merged system bundle (Debian/Ubuntu first, then RHEL, Alpine/macOS). */
export const SYSTEM_BUNDLE_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export interface SystemRoots {
  /** The file read, or `node:tls rootCertificates` when none exists. */
  source: string;
  /** DER of each root, duplicates removed, in file order. */
  certificates: Buffer[];
}

/**
 * The roots a client would trust without Veil. Variables like SSL_CERT_FILE *replace* a client's
 * default bundle, so the file they point to must carry these as well as Veil's CA.
 */
export async function readSystemRoots(files: readonly string[] = SYSTEM_BUNDLE_FILES): Promise<SystemRoots> {
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const certificates = unique(certificatesFromPem(text));
    if (certificates.length > 0) return { source: file, certificates };
  }
  return { source: 'node:tls rootCertificates', certificates: unique(rootCertificates.flatMap(certificatesFromPem)) };
}

function unique(certificates: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return certificates.filter((der) => {
    const key = der.toString('base64');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
