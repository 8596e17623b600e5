/**
 * Flags + environment of the stand-alone proxy (`veil proxy`). The proxy settings shared with
 * `veil serve` (CA, upstream trust, pins, disallowed mode, unrestricted secrets, listen address,
 * non-TLS CONNECT mode, sidecar sandbox, log level) come from loadConfig, so both commands read them identically.
 */
import { isUuid } from '../ids.js';
import { checkControlPlaneUrl, ControlPlaneUrlError } from '../resolver/remote.js';
import { loadConfig, type Env, type VeilConfig } from './config.js';
import { UsageError } from './errors.js';

export interface ProxyConfig {
  /** Control-plane base URL: https, or http to a loopback address. */
  controlPlaneUrl: string;
  /** API key with the proxy:resolve scope (optionally restricted to one sandbox). Never logged. */
  apiKey: string;
  /** Extra PEM bundle trusted for the control plane's TLS certificate. */
  controlPlaneCaFile: string | undefined;
  /** The settings shared with `veil serve` (proxyListen, ca, upstreamCaFile, resolve, disallowed, ...). */
  shared: VeilConfig;
}

export const PROXY_FLAGS = {
  'control-plane': { type: 'string' },
  'control-plane-ca': { type: 'string' },
  'api-key': { type: 'string' },
  sandbox: { type: 'string' },
  'proxy-listen': { type: 'string' },
  disallowed: { type: 'string' },
  'non-tls-connect': { type: 'string' },
  'allow-unrestricted-secrets': { type: 'boolean' },
} as const;

export interface ProxyFlags {
  'control-plane'?: string | undefined;
  'control-plane-ca'?: string | undefined;
  'api-key'?: string | undefined;
  sandbox?: string | undefined;
  'proxy-listen'?: string | undefined;
  disallowed?: string | undefined;
  'non-tls-connect'?: string | undefined;
  'allow-unrestricted-secrets'?: boolean | undefined;
}

function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}


export function loadProxyConfig(flags: ProxyFlags = {}, env: Env = {}): ProxyConfig {
  const shared = loadConfig(
    {
      'proxy-listen': flags['proxy-listen'],
      disallowed: flags.disallowed,
      'non-tls-connect': flags['non-tls-connect'],
      'allow-unrestricted-secrets': flags['allow-unrestricted-secrets'],
      sandbox: flags.sandbox,
    },
    env,
  );
  const urlSetting = flags['control-plane'] !== undefined ? '--control-plane' : 'VEIL_API_URL';
  const urlText = flags['control-plane'] ?? envValue(env, 'VEIL_API_URL');
  if (urlText === undefined) throw new UsageError('the control plane is missing: pass --control-plane URL or set VEIL_API_URL');
  let controlPlaneUrl: string;
  try {
    controlPlaneUrl = checkControlPlaneUrl(urlSetting, urlText);
  } catch (error) {
    if (error instanceof ControlPlaneUrlError) throw new UsageError(error.message);
    throw error;
  }
  const apiKey = flags['api-key'] ?? envValue(env, 'VEIL_API_KEY');
  if (apiKey === undefined || apiKey.trim() === '') {
    throw new UsageError('the API key is missing: pass --api-key KEY or set VEIL_API_KEY (a key with the proxy:resolve scope)');
  }
  if (shared.sandboxId !== undefined && !isUuid(shared.sandboxId)) {
    throw new UsageError(`${flags.sandbox !== undefined ? '--sandbox' : 'VEIL_SANDBOX_ID'}: expected a sandbox id (UUID)`);
  }
  return {
    controlPlaneUrl,
    apiKey: apiKey.trim(),
    controlPlaneCaFile: flags['control-plane-ca'] ?? envValue(env, 'VEIL_CONTROL_PLANE_CA_FILE'),
    shared: { ...shared, sandboxId: shared.sandboxId?.toLowerCase() },
  };
}
