/**
 * Trust files for clients behind Veil's proxy, and the environment variables that point at them.
 *
 * Most variables (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, ...) *replace*
 * a client's default roots, so they get a merged bundle: system roots + Veil's CA. Node *adds*
 * NODE_EXTRA_CA_CERTS to its built-in roots, so that one gets Veil's CA alone. Java gets a PKCS#12
 * truststore through JAVA_TOOL_OPTIONS. Nothing here is secret: certificates only, files 0644.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { certificatesFromPem, derToPem } from './der.js';
import { buildJavaTrustStore, type TrustedCertificate } from './java-truststore.js';
import { readSystemRoots, type SystemRoots } from './system-roots.js';
import type { CertificateAuthority } from './types.js';

/** The truststore password is public on purpose: it only keys the file's integrity MAC. */
export const JAVA_TRUSTSTORE_PASSWORD = 'changeit';
/** Alias of Veil's CA in the Java truststore. */
export const VEIL_CA_ALIAS = 'veil-local-ca';

export interface TrustPaths {
  /** Veil's CA alone (for NODE_EXTRA_CA_CERTS and `curl --cacert`). */
  caPem: string;
  /** System roots + Veil's CA. */
  bundlePem: string;
  /** PKCS#12 truststore: system roots + Veil's CA as trusted certificate entries. */
  javaTrustStore: string;
}

export interface TrustFiles extends TrustPaths {
  javaTrustStorePassword: string;
  /** Where the system roots came from, and how many went into the bundle. */
  systemRootsSource: string;
  systemRootCount: number;
}

const FILE_MODE = 0o644;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes once: an existing file with this (content-addressed) name is reused as is. Mode 0644:
 * for certificates and other public trust settings only.
 */
export async function writeOnce(path: string, content: () => string | Buffer): Promise<void> {
  if (await exists(path)) return;
  // temp + rename: readers never see a partial file; racing writers each rename a complete one.
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content(), { mode: FILE_MODE, flag: 'wx' });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

function hexPrefix(fingerprint: string, length: number): string {
  return fingerprint.replace(/:/g, '').toLowerCase().slice(0, length);
}

function aliasFor(der: Buffer): string {
  return `system-${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/**
 * Writes (once per CA fingerprint and set of system roots) the CA file, the merged bundle and the
 * Java truststore into `outDir`, returning their absolute paths. File names carry the CA
 * fingerprint prefix and a digest of the system roots, so a new CA or updated roots get new files
 * and existing ones are never rewritten under a reader.
 */
export async function writeTrustFiles(
  ca: Pick<CertificateAuthority, 'certPem' | 'fingerprint'>,
  outDir: string,
  options: { systemRoots?: SystemRoots } = {},
): Promise<TrustFiles> {
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const caDer = certificatesFromPem(ca.certPem)[0];
  if (!caDer) throw new TypeError('the CA certificate PEM holds no certificate');
  const roots = options.systemRoots ?? (await readSystemRoots());
  const systemRoots = roots.certificates.filter((der) => !der.equals(caDer));
  const rootsDigest = createHash('sha256');
  for (const der of systemRoots) rootsDigest.update(der);
  const caId = hexPrefix(ca.fingerprint, 16);
  const rootsId = rootsDigest.digest('hex').slice(0, 8);

  const caPem = join(dir, `veil-ca-${caId}.pem`);
  const bundlePem = join(dir, `veil-bundle-${caId}-${rootsId}.pem`);
  const javaTrustStore = join(dir, `veil-truststore-${caId}-${rootsId}.p12`);
  const caText = derToPem(caDer, 'CERTIFICATE');
  await writeOnce(caPem, () => caText);
  await writeOnce(bundlePem, () => {
    const subject = new X509Certificate(caDer).subject.replace(/\n/g, ', ');
    const system = systemRoots.map((der) => derToPem(der, 'CERTIFICATE')).join('');
    return `# System roots (${roots.source}) + Veil CA\n${system}# Veil CA: ${subject}\n# SHA-256 ${ca.fingerprint}\n${caText}`;
  });
  await writeOnce(javaTrustStore, () => {
    const entries: TrustedCertificate[] = [{ alias: VEIL_CA_ALIAS, der: caDer }, ...systemRoots.map((der) => ({ alias: aliasFor(der), der }))];
    return buildJavaTrustStore(entries, JAVA_TRUSTSTORE_PASSWORD);
  });
  return {
    caPem,
    bundlePem,
    javaTrustStore,
    javaTrustStorePassword: JAVA_TRUSTSTORE_PASSWORD,
    systemRootsSource: roots.source,
    systemRootCount: systemRoots.length,
  };
}

/** Quotes a JVM option holding whitespace; the JVM honours quotes in JAVA_TOOL_OPTIONS. */
export function jvmOption(option: string): string {
  return /\s/.test(option) ? `"${option.replace(/"/g, '\\"')}"` : option;
}

/** Variables that replace a client's default root bundle: they must point at the merged bundle. */
export const BUNDLE_ENV_NAMES = [
  'SSL_CERT_FILE', // OpenSSL-based clients, Python ssl, Ruby, Go (Linux), rustls-native-certs
  'REQUESTS_CA_BUNDLE', // Python requests
  'CURL_CA_BUNDLE', // curl, Python requests
  'GIT_SSL_CAINFO', // git over https
  'PIP_CERT', // pip
  'AWS_CA_BUNDLE', // AWS CLI and SDKs
  'DENO_CERT', // Deno
  'CARGO_HTTP_CAINFO', // cargo
] as const;

/**
 * The trust variables for a child process (pure). JAVA_TOOL_OPTIONS holds only the truststore
 * options; callers merge it with options of their own.
 */
export function trustEnv(paths: TrustPaths, options: { javaTrustStorePassword?: string } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BUNDLE_ENV_NAMES) env[name] = paths.bundlePem;
  env.NODE_EXTRA_CA_CERTS = paths.caPem; // Node adds these to its own roots
  env.JAVA_TOOL_OPTIONS = [
    `-Djavax.net.ssl.trustStore=${paths.javaTrustStore}`,
    '-Djavax.net.ssl.trustStoreType=PKCS12',
    `-Djavax.net.ssl.trustStorePassword=${options.javaTrustStorePassword ?? JAVA_TRUSTSTORE_PASSWORD}`,
  ]
    .map(jvmOption)
    .join(' ');
  return env;
}
