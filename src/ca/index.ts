export type { CaLocation, CertificateAuthority } from './types.js';
export {
  loadOrCreateCertificateAuthority,
  type CertificateAuthorityOptions,
  type LocalCertificateAuthority,
} from './authority.js';
export type { CaLogger } from './ca-files.js';
export type { ContextCacheStats } from './context-cache.js';
export { CaError } from './errors.js';
export { DEFAULT_LEAF_VALIDITY_DAYS, MAX_LEAF_VALIDITY_DAYS } from './leaf.js';
export { CA_CERT_FILE_NAME, CA_KEY_FILE_NAME, DEFAULT_CA_DIR, resolveCaLocation, type ResolvedCaLocation } from './location.js';
export {
  BUNDLE_ENV_NAMES,
  JAVA_TRUSTSTORE_PASSWORD,
  trustEnv,
  VEIL_CA_ALIAS,
  writeTrustFiles,
  type TrustFiles,
  type TrustPaths,
} from './trust.js';
export { caInit, caPath, caShow } from './commands.js';
