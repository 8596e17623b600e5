/**
 * Flags + environment -> one typed VeilConfig. Flags win over env; an empty env var counts as
 * unset. The settings of the server side live here (they are a contract: README lists them); the
 * client commands' `--api-url`/VEIL_API_URL is read by apiUrlSetting in mode.ts alone, VEIL_API_KEY
 * where a client is made, and `veil proxy`'s control plane by proxy-config.ts.
 */
import type { CaLocation } from '../ca/types.js';
import { decodeMasterKey, MasterKeyError } from '../crypto/master-key.js';
import { MIN_CUSTOM_KEY_LENGTH } from '../service/orgs.js';
import { UsageError } from './errors.js';
import {
  parseBoolean,
  parseDatabaseUrl,
  parseDisallowed,
  parseListen,
  parseLogLevel,
  parseMilliseconds,
  parseBytes,
  parseProxyUrl,
  parseNonEmpty,
  parseNonTlsConnect,
  parseResolve,
  type DisallowedMode,
  type ListenAddress,
  type LogLevel,
  type NonTlsConnectMode,
  type ResolveEntry,
} from './parse.js';

export interface VeilConfig {
  /** Where the SQLite database (`veil.db`), master key and bootstrap admin key live. */
  dataDir: string;
  apiListen: ListenAddress;
  proxyListen: ListenAddress;
  /** false with `--no-proxy`: serve the control plane only. */
  proxyEnabled: boolean;
  /** VEIL_MASTER_KEY: overrides the master key file in dataDir. Never logged. */
  masterKey: string | undefined;
  /** VEIL_ADMIN_API_KEY: use this as the bootstrap admin key instead of generating one. */
  adminApiKey: string | undefined;
  ca: CaLocation & { dir: string };
  /** Extra CA bundle (PEM) the proxy trusts for upstream TLS, on top of the system roots. */
  upstreamCaFile: string | undefined;
  /** Static DNS overrides the proxy applies to upstream connections. */
  resolve: ResolveEntry[];
  /** What the proxy does with a request carrying a placeholder for a host not on its allowlist. */
  disallowed: DisallowedMode;
  /** CONNECT whose first bytes are not TLS: relay raw without substitution ('tunnel') or refuse ('deny'). */
  nonTlsConnect: NonTlsConnectMode;
  /** Substitute secrets that have no hosts everywhere (Daytona's behaviour); off by default. */
  allowUnrestrictedSecrets: boolean;
  /** Proxy mapping cache: freshness and the bound on serving a stale copy when lookups fail (ms). */
  proxyCache: { ttlMs: number | undefined; staleMs: number | undefined };
  /** Request bodies that get a value and have a Content-Length: kept in memory up to memoryBytes, then spilled to spillDir; refused above maxBytes. */
  proxyBody: { memoryBytes: number | undefined; maxBytes: number | undefined; spillDir: string | undefined };
  /** Sidecar mode: the proxy serves this one sandbox and needs no proxy credentials. */
  sandboxId: string | undefined;
  /** postgres://... : use PostgreSQL instead of SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** The proxy as sandboxes reach it (`POST /sandbox` replies); default: the embedded proxy's address. */
  proxyPublicUrl: string | undefined;
  logLevel: LogLevel;
}

export const DEFAULTS = {
  dataDir: './.veil',
  apiListen: '127.0.0.1:8080',
  proxyListen: '127.0.0.1:3128',
  caDir: 'certs',
  disallowed: 'pass',
  nonTlsConnect: 'tunnel',
  logLevel: 'info',
} as const;

/** Command-line flags that feed VeilConfig, in node:util parseArgs form. */
export const CONFIG_FLAGS = {
  'data-dir': { type: 'string' },
  'api-listen': { type: 'string' },
  'proxy-listen': { type: 'string' },
  'no-proxy': { type: 'boolean' },
  disallowed: { type: 'string' },
  'non-tls-connect': { type: 'string' },
  'allow-unrestricted-secrets': { type: 'boolean' },
  sandbox: { type: 'string' },
} as const;

export interface ConfigFlags {
  'data-dir'?: string | undefined;
  'api-listen'?: string | undefined;
  'proxy-listen'?: string | undefined;
  'no-proxy'?: boolean | undefined;
  disallowed?: string | undefined;
  'non-tls-connect'?: string | undefined;
  'allow-unrestricted-secrets'?: boolean | undefined;
  sandbox?: string | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The env var's value, or undefined when unset or empty. */
function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Picks the flag when given, else the env var; returns the text plus the name to blame in errors. */
function pick(flag: string | undefined, flagName: string, env: Env, envName: string): { text: string; setting: string } | undefined {
  if (flag !== undefined) return { text: flag, setting: `--${flagName}` };
  const fromEnv = envValue(env, envName);
  return fromEnv === undefined ? undefined : { text: fromEnv, setting: envName };
}

function optional<T>(picked: { text: string; setting: string } | undefined, parse: (setting: string, text: string) => T): T | undefined {
  return picked === undefined ? undefined : parse(picked.setting, picked.text);
}

/** Checks VEIL_MASTER_KEY's shape up front so a typo is a usage error (exit 2), not a failed start. */
function checkMasterKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    decodeMasterKey(value, 'VEIL_MASTER_KEY');
  } catch (error) {
    // Its messages describe the problem and never echo the key.
    if (error instanceof MasterKeyError) throw new UsageError(error.message);
    throw error;
  }
  return value;
}

function checkAdminApiKey(value: string | undefined): string | undefined {
  if (value !== undefined && (value.length < MIN_CUSTOM_KEY_LENGTH || /\s/.test(value))) {
    throw new UsageError(`VEIL_ADMIN_API_KEY: must be at least ${MIN_CUSTOM_KEY_LENGTH} characters without whitespace (value not shown)`);
  }
  return value;
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = {}): VeilConfig {
  const dataDir = optional(pick(flags['data-dir'], 'data-dir', env, 'VEIL_DATA_DIR'), parseNonEmpty) ?? DEFAULTS.dataDir;
  const apiListen = pick(flags['api-listen'], 'api-listen', env, 'VEIL_API_LISTEN') ?? { text: DEFAULTS.apiListen, setting: 'VEIL_API_LISTEN' };
  const proxyListen = pick(flags['proxy-listen'], 'proxy-listen', env, 'VEIL_PROXY_LISTEN') ?? { text: DEFAULTS.proxyListen, setting: 'VEIL_PROXY_LISTEN' };
  const unrestrictedEnv = envValue(env, 'VEIL_ALLOW_UNRESTRICTED_SECRETS');
  const certFile = envValue(env, 'VEIL_CA_CERT_FILE');
  const keyFile = envValue(env, 'VEIL_CA_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('VEIL_CA_CERT_FILE and VEIL_CA_KEY_FILE must be set together');
  }

  return {
    dataDir,
    apiListen: parseListen(apiListen.setting, apiListen.text),
    proxyListen: parseListen(proxyListen.setting, proxyListen.text),
    proxyEnabled: flags['no-proxy'] !== true,
    masterKey: checkMasterKey(envValue(env, 'VEIL_MASTER_KEY')),
    adminApiKey: checkAdminApiKey(envValue(env, 'VEIL_ADMIN_API_KEY')),
    ca: { dir: envValue(env, 'VEIL_CA_DIR') ?? DEFAULTS.caDir, certFile, keyFile },
    upstreamCaFile: envValue(env, 'VEIL_UPSTREAM_CA_FILE'),
    resolve: optional(pick(undefined, '', env, 'VEIL_RESOLVE'), parseResolve) ?? [],
    disallowed: optional(pick(flags.disallowed, 'disallowed', env, 'VEIL_DISALLOWED'), parseDisallowed) ?? DEFAULTS.disallowed,
    nonTlsConnect:
      optional(pick(flags['non-tls-connect'], 'non-tls-connect', env, 'VEIL_NON_TLS_CONNECT'), parseNonTlsConnect) ?? DEFAULTS.nonTlsConnect,
    allowUnrestrictedSecrets:
      flags['allow-unrestricted-secrets'] === true ||
      (unrestrictedEnv !== undefined && parseBoolean('VEIL_ALLOW_UNRESTRICTED_SECRETS', unrestrictedEnv)),
    proxyCache: {
      ttlMs: optional(pick(undefined, '', env, 'VEIL_PROXY_CACHE_TTL_MS'), parseMilliseconds),
      staleMs: optional(pick(undefined, '', env, 'VEIL_PROXY_CACHE_STALE_MS'), parseMilliseconds),
    },
    proxyBody: {
      memoryBytes: optional(pick(undefined, '', env, 'VEIL_PROXY_BODY_MEMORY_BYTES'), parseBytes),
      maxBytes: optional(pick(undefined, '', env, 'VEIL_PROXY_BODY_MAX_BYTES'), parseBytes),
      spillDir: envValue(env, 'VEIL_PROXY_SPILL_DIR'),
    },
    sandboxId: optional(pick(flags.sandbox, 'sandbox', env, 'VEIL_SANDBOX_ID'), parseNonEmpty),
    databaseUrl: optional(pick(undefined, '', env, 'VEIL_DATABASE_URL'), parseDatabaseUrl),
    proxyPublicUrl: optional(pick(undefined, '', env, 'VEIL_PROXY_PUBLIC_URL'), parseProxyUrl),
    logLevel: optional(pick(undefined, '', env, 'VEIL_LOG_LEVEL'), parseLogLevel) ?? DEFAULTS.logLevel,
  };
}
