import type { SecretLocation } from '../store/types.js';

/**
 * `GET /sandbox/{id}/secrets` keeps Daytona's body shape; what a remote proxy needs besides travels
 * in these response headers: the sandbox's proxy token hash and its org (to match change events).
 */
export const PROXY_TOKEN_HASH_HEADER = 'x-veil-proxy-token-sha256';
export const ORG_ID_HEADER = 'x-veil-org-id';

/** One secret as the proxy needs it: a decrypted value, its placeholder and where it may go. */
export interface ResolvedSecret {
  secretId: string;
  name: string;
  /** The env var it is mounted as in this sandbox. */
  env: string;
  placeholder: string;
  value: string;
  hosts: string[];
  locations: SecretLocation[];
}

export interface SandboxSecrets {
  sandboxId: string;
  orgId: string;
  /** sha256(hex) of the sandbox's proxy token; the proxy compares in constant time. */
  proxyTokenHash: string;
  secrets: ResolvedSecret[];
}

/**
 * How the proxy learns which secrets a sandbox may use. In `veil serve` it reads the store
 * in-process (LocalResolver); a stand-alone proxy talks to a control plane over HTTP
 * (`GET /sandbox/{id}/secrets`). Caching is not the resolver's job: see src/proxy/mapping-cache.ts.
 */
export interface SecretResolver {
  /** null when the sandbox does not exist. Rejects when the lookup itself fails. */
  resolve(sandboxId: string): Promise<SandboxSecrets | null>;
}
