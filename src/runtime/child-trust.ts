/** The trust files a child process under Veil needs, and the variables that point at them. */
import { trustEnv, writeTrustFiles } from '../ca/trust.js';
import type { CertificateAuthority } from '../ca/types.js';
import { writeWgetrc } from './wgetrc.js';

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
