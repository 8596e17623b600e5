/**
 * GNU wget on Debian/Ubuntu is built with GnuTLS and ignores SSL_CERT_FILE; it reads its CA file
 * from a wgetrc (`ca_certificate`). Veil writes a tiny one next to the trust files and points WGETRC
 * at it. Under Veil, wget therefore does not read ~/.wgetrc (/etc/wgetrc still applies).
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { writeOnce } from '../ca/trust.js';

/** Writes (once, content-addressed) `veil-wgetrc-<hash>` beside the bundle; returns its path. */
export async function writeWgetrc(bundlePem: string): Promise<string> {
  const content = `# Written by Veil: trust the merged bundle (system roots + Veil's CA).\nca_certificate = ${bundlePem}\n`;
  const file = join(dirname(bundlePem), `veil-wgetrc-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`);
  await writeOnce(file, () => content);
  return file;
}
