import { join, resolve } from 'node:path';
import { CaError } from './errors.js';
import type { CaLocation } from './types.js';

export const DEFAULT_CA_DIR = 'certs';
export const CA_CERT_FILE_NAME = 'ca.pem';
export const CA_KEY_FILE_NAME = 'ca-key.pem';

/**
 * `files`: the user's own pair, used as is and never written. `dir`: Veil's managed pair
 * (`ca.pem` + `ca-key.pem`), created on first start.
 */
export type ResolvedCaLocation =
  | { kind: 'files'; certFile: string; keyFile: string }
  | { kind: 'dir'; dir: string; certFile: string; keyFile: string };

/** Absolute paths for a location. Explicit files win over `dir` (config always fills in `dir`). */
export function resolveCaLocation(location: CaLocation = {}): ResolvedCaLocation {
  const certFile = location.certFile || undefined;
  const keyFile = location.keyFile || undefined;
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined) {
      throw new CaError('the CA certificate file and key file must be given together (VEIL_CA_CERT_FILE and VEIL_CA_KEY_FILE)');
    }
    return { kind: 'files', certFile: resolve(certFile), keyFile: resolve(keyFile) };
  }
  const dir = resolve(location.dir || DEFAULT_CA_DIR);
  return { kind: 'dir', dir, certFile: join(dir, CA_CERT_FILE_NAME), keyFile: join(dir, CA_KEY_FILE_NAME) };
}
