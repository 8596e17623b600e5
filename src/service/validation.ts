/**
 * Input validation shared by the services. Every failure is a BadRequestError whose message
 * starts with the field name and says why. Messages never quote a secret value.
 */
import { BadRequestError } from '../errors.js';
import { normalizeHostList } from '../hosts/hosts.js';
import { DEFAULT_LOCATIONS, SCOPES, SECRET_LOCATIONS, type Scope, type SecretLocation } from '../store/types.js';

export const SECRET_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_-]*$/;
export const SECRET_NAME_MAX = 256;
export const SECRET_VALUE_MAX_BYTES = 64 * 1024;
export const DESCRIPTION_MAX = 1024;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const ENV_NAME_MAX = 256;
export const SANDBOX_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const SANDBOX_NAME_MAX = 128;
export const ORG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const ORG_NAME_MAX = 128;
export const MAX_MOUNTS = 256;

/** Shortens user text for an error message (names and hosts only, never values). */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}

export function asObject(body: unknown, what = 'body'): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(`${what} must be a JSON object`);
  return body as Record<string, unknown>;
}

export function requireString(field: string, input: unknown): string {
  if (typeof input !== 'string') throw new BadRequestError(`${field} is required and must be a string`);
  return input;
}

export function validateSecretName(input: unknown, field = 'name'): string {
  const name = requireString(field, input);
  if (name.length === 0) throw new BadRequestError(`${field} must not be empty`);
  if (name.length > SECRET_NAME_MAX) throw new BadRequestError(`${field} must be at most ${SECRET_NAME_MAX} characters`);
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new BadRequestError(`${field} must match ${SECRET_NAME_PATTERN.source} (letters, digits, "_" and "-", not starting with a digit or "-")`);
  }
  return name;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Checks type, encoding and size only: the message never includes the value. */
export function validateSecretValue(input: unknown): string {
  if (typeof input !== 'string') throw new BadRequestError('value is required and must be a string');
  // An unpaired surrogate would not survive UTF-8 encoding: the stored value would differ.
  if (UNPAIRED_SURROGATE.test(input)) throw new BadRequestError('value must be valid Unicode (it contains an unpaired surrogate)');
  const bytes = Buffer.byteLength(input, 'utf8');
  if (bytes === 0) throw new BadRequestError('value must not be empty');
  if (bytes > SECRET_VALUE_MAX_BYTES) throw new BadRequestError(`value must be at most ${SECRET_VALUE_MAX_BYTES} bytes (UTF-8), got ${bytes}`);
  return input;
}

export function validateDescription(input: unknown): string | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'string') throw new BadRequestError('description must be a string');
  if (input.length > DESCRIPTION_MAX) throw new BadRequestError(`description must be at most ${DESCRIPTION_MAX} characters`);
  return input === '' ? null : input;
}

export function validateHosts(input: unknown): string[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) throw new BadRequestError('hosts must be an array of hostnames');
  for (const [index, entry] of input.entries()) {
    if (typeof entry !== 'string') throw new BadRequestError(`hosts: entry ${index} must be a string`);
  }
  const result = normalizeHostList(input as string[]);
  if (!result.ok) throw new BadRequestError(`hosts: ${result.reason}`);
  return result.value;
}

export function validateLocations(input: unknown): SecretLocation[] {
  if (input === undefined || input === null) return [...DEFAULT_LOCATIONS];
  if (!Array.isArray(input)) throw new BadRequestError(`locations must be an array of ${SECRET_LOCATIONS.join('|')}`);
  if (input.length === 0) throw new BadRequestError(`locations must not be empty (allowed: ${SECRET_LOCATIONS.join(', ')})`);
  const seen = new Set<SecretLocation>();
  for (const [index, entry] of input.entries()) {
    if (typeof entry !== 'string' || !(SECRET_LOCATIONS as readonly string[]).includes(entry)) {
      throw new BadRequestError(`locations: entry ${index} must be one of ${SECRET_LOCATIONS.join(', ')}`);
    }
    seen.add(entry as SecretLocation);
  }
  // Canonical order, duplicates dropped.
  return SECRET_LOCATIONS.filter((location) => seen.has(location));
}

export function validateScopes(input: unknown): Scope[] {
  if (!Array.isArray(input) || input.length === 0) throw new BadRequestError(`scopes must be a non-empty array of ${SCOPES.join(', ')}`);
  const seen = new Set<Scope>();
  for (const [index, entry] of input.entries()) {
    if (typeof entry !== 'string' || !(SCOPES as readonly string[]).includes(entry)) {
      throw new BadRequestError(`scopes: entry ${index} must be one of ${SCOPES.join(', ')}`);
    }
    seen.add(entry as Scope);
  }
  return SCOPES.filter((scope) => seen.has(scope));
}

export function validateOptionalName(field: string, input: unknown, pattern: RegExp, max: number): string | null {
  if (input === undefined || input === null || input === '') return null;
  if (typeof input !== 'string') throw new BadRequestError(`${field} must be a string`);
  if (input.length > max) throw new BadRequestError(`${field} must be at most ${max} characters`);
  if (!pattern.test(input)) throw new BadRequestError(`${field} must match ${pattern.source}`);
  return input;
}

/** Mounts as Daytona sends them (`[{ENV: name}, ...]`) or as a plain `{ENV: name}` map. */
/** Env var names Veil sets itself in a sandbox (proxy and trust settings); no secret may be mounted under one. */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'http_proxy',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
  'NODE_OPTIONS',
  'NODE_USE_ENV_PROXY',
  'JAVA_TOOL_OPTIONS',
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'NODE_EXTRA_CA_CERTS',
  'GIT_SSL_CAINFO',
  'PIP_CERT',
  'AWS_CA_BUNDLE',
  'DENO_CERT',
  'CARGO_HTTP_CAINFO',
  'WGETRC',
  'PATH',
]);

/** Why `name` may not carry a mounted secret because Veil owns it, or null. */
export function reservedEnvNameProblem(name: string): string | null {
  if (RESERVED_ENV_NAMES.has(name)) return `${name} is set by Veil itself (proxy/trust settings) and cannot hold a secret`;
  if (name.startsWith('VEIL_')) return `${name}: the VEIL_ prefix is reserved`;
  return null;
}

export function validateMountList(input: unknown): Array<{ env: string; secretName: string }> {
  if (input === undefined || input === null) return [];
  let pairs: Array<[string, unknown]>;
  if (Array.isArray(input)) {
    pairs = [];
    for (const [index, entry] of input.entries()) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new BadRequestError(`secrets: entry ${index} must be an object like {"ENV_VAR": "secretName"}`);
      }
      pairs.push(...Object.entries(entry as Record<string, unknown>));
    }
  } else if (typeof input === 'object') {
    pairs = Object.entries(input as Record<string, unknown>);
  } else {
    throw new BadRequestError('secrets must be an array of {"ENV_VAR": "secretName"} objects');
  }
  if (pairs.length > MAX_MOUNTS) throw new BadRequestError(`secrets must mount at most ${MAX_MOUNTS} variables`);
  const seen = new Set<string>();
  return pairs.map(([env, secretName]) => {
    if (env.length > ENV_NAME_MAX || !ENV_NAME_PATTERN.test(env)) {
      throw new BadRequestError(`secrets: env var ${quote(env)} must match ${ENV_NAME_PATTERN.source}`);
    }
    const reserved = reservedEnvNameProblem(env);
    if (reserved) throw new BadRequestError(`secrets: env var ${reserved}`);
    if (seen.has(env)) throw new BadRequestError(`secrets: env var ${quote(env)} is mounted more than once`);
    seen.add(env);
    if (typeof secretName !== 'string' || secretName === '') {
      throw new BadRequestError(`secrets: env var ${quote(env)} must map to a secret name (string)`);
    }
    return { env, secretName };
  });
}
