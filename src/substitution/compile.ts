/**
 * Preparing a sandbox's secrets for fast scanning, and the per-secret policy shared by every
 * substitution site (headers, URL, Basic auth, bodies).
 *
 * Placeholders have a fixed shape (`veil_` + 32 chars of [A-Za-z0-9], length 37), so a scanner
 * looks for `veil_`, reads the 32 following chars and looks the candidate up in `byPlaceholder`.
 */
import type { ResolvedSecret } from '../resolver/types.js';
import { hostAllowed, normalizeHostPattern } from '../hosts/hosts.js';
import { DEFAULT_LOCATIONS, type SecretLocation } from '../store/types.js';
import { PLACEHOLDER_LENGTH, PLACEHOLDER_PATTERN } from '../crypto/tokens.js';
import type { CompiledSecrets } from './types.js';

// The placeholder's shape is defined once, where placeholders are generated.
export { PLACEHOLDER_BODY_LENGTH, PLACEHOLDER_LENGTH, PLACEHOLDER_PREFIX } from '../crypto/tokens.js';

/** Is `text` exactly a placeholder (shape only, not whether any secret has it)? */
export function isPlaceholder(text: string): boolean {
  return text.length === PLACEHOLDER_LENGTH && PLACEHOLDER_PATTERN.test(text);
}

/** Is the char code one of [A-Za-z0-9]? */
export function isAlnumCode(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/**
 * Builds the lookup structure for one sandbox's secrets. Cheap (linear); call it when a mapping
 * enters the proxy's cache, not per request. If two secrets share a placeholder (the store's
 * unique index forbids it) the first one wins. Host patterns are re-normalized defensively here
 * (a remote control plane could send them in another spelling); entries that do not normalize are
 * dropped, which fails safe.
 */
export function compileSecrets(secrets: ResolvedSecret[]): CompiledSecrets {
  const byPlaceholder = new Map<string, ResolvedSecret>();
  for (const secret of secrets) {
    if (!byPlaceholder.has(secret.placeholder)) byPlaceholder.set(secret.placeholder, secret);
    policyOf(secret);
  }
  return { secrets: [...secrets], byPlaceholder };
}

interface SecretPolicy {
  hosts: string[];
  locations: ReadonlySet<SecretLocation>;
}

const policies = new WeakMap<ResolvedSecret, SecretPolicy>();

function policyOf(secret: ResolvedSecret): SecretPolicy {
  let policy = policies.get(secret);
  if (!policy) {
    const hosts: string[] = [];
    for (const pattern of secret.hosts ?? []) {
      const normalized = normalizeHostPattern(pattern);
      if (normalized.ok) hosts.push(normalized.value);
    }
    // A secret whose every host entry failed to normalize had hosts: it must not become
    // "unrestricted". Keep an impossible pattern so that it matches nothing.
    if (hosts.length === 0 && (secret.hosts ?? []).length > 0) hosts.push('\u0000invalid');
    policy = { hosts, locations: new Set(secret.locations ?? DEFAULT_LOCATIONS) };
    policies.set(secret, policy);
  }
  return policy;
}

/**
 * May this secret's value go to `host` (normalized with normalizeDestinationHost) at `location`?
 * Location enabled AND (host on the allowlist, or no hosts at all and allowUnrestricted).
 */
export function secretAllowed(secret: ResolvedSecret, host: string, location: SecretLocation, allowUnrestricted: boolean): boolean {
  const policy = policyOf(secret);
  if (!policy.locations.has(location)) return false;
  if (policy.hosts.length === 0) return allowUnrestricted;
  return hostAllowed(policy.hosts, host);
}

/** The secrets of `compiled` allowed for `host` at `location` (e.g. body substitution candidates). */
export function allowedSecrets(compiled: CompiledSecrets, host: string, location: SecretLocation, allowUnrestricted: boolean): ResolvedSecret[] {
  return compiled.secrets.filter((secret) => compiled.byPlaceholder.get(secret.placeholder) === secret && secretAllowed(secret, host, location, allowUnrestricted));
}
