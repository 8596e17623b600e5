/**
 * `veil ca init|show|path` as functions returning the text to print. The CLI wires them up; they
 * throw CaError for the CLI to report and never exit the process themselves.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { loadCa } from './ca-certificate.js';
import { caFilesPresent, readOrCreateCaFiles, type CaLogger } from './ca-files.js';
import { CaError } from './errors.js';
import { resolveCaLocation, type ResolvedCaLocation } from './location.js';
import type { CaLocation } from './types.js';

async function requireCertificate(location: ResolvedCaLocation): Promise<void> {
  const present = await caFilesPresent(location);
  if (!present.cert) {
    const hint = location.kind === 'dir' ? '; run `veil ca init` to create one' : '';
    throw new CaError(`no CA certificate at ${location.certFile}${hint}`);
  }
}

/** Creates the CA if absent (checking an existing pair), then prints where it is and its fingerprint. */
export async function caInit(location: CaLocation, options: { logger?: CaLogger } = {}): Promise<string> {
  const resolved = resolveCaLocation(location);
  const files = await readOrCreateCaFiles(resolved, options.logger);
  const { x509 } = loadCa(files.certPem, files.keyPem, resolved);
  return [
    files.created ? 'Created a new Veil CA.' : 'Using the existing Veil CA.',
    `certificate: ${resolved.certFile}`,
    `private key: ${resolved.keyFile}`,
    `subject: ${x509.subject.replace(/\n/g, ', ')}`,
    `SHA-256 fingerprint: ${x509.fingerprint256}`,
    `valid until: ${x509.validTo}`,
    `Clients trust it with e.g. curl --cacert ${resolved.certFile}; \`veil run\` sets this up for child processes.`,
  ].join('\n') + '\n';
}

/** The CA certificate: subject, fingerprint, validity and PEM. Reads the certificate only. */
export async function caShow(location: CaLocation): Promise<string> {
  const resolved = resolveCaLocation(location);
  await requireCertificate(resolved);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(await readFile(resolved.certFile));
  } catch (error) {
    throw new CaError(`${resolved.certFile} does not hold a PEM certificate`, { cause: error });
  }
  return [
    `file: ${resolved.certFile}`,
    `subject: ${x509.subject.replace(/\n/g, ', ')}`,
    `issuer: ${x509.issuer.replace(/\n/g, ', ')}`,
    `serial: ${x509.serialNumber}`,
    `SHA-256 fingerprint: ${x509.fingerprint256}`,
    `not before: ${x509.validFrom}`,
    `not after: ${x509.validTo}`,
    '',
    x509.toString().trimEnd(),
  ].join('\n') + '\n';
}

/** Only the CA certificate's absolute path (no newline), for scripts: `curl --cacert "$(veil ca path)"`. */
export async function caPath(location: CaLocation): Promise<string> {
  const resolved = resolveCaLocation(location);
  await requireCertificate(resolved);
  return resolved.certFile;
}
