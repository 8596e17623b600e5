/**
 * `veil env`: the variables `veil run` would give a child, for an existing sandbox, so that any
 * process (a container entrypoint, an IDE, a shell) can be set up by hand.
 */
import { resolve, join } from 'node:path';
import { loadOrCreateCertificateAuthority } from '../ca/index.js';
import { SandboxService } from '../client/sandboxes.js';
import { DEFAULTS, loadConfig, UsageError, type AdminMode, type Env } from '../config/index.js';
import { veilEnv } from './child-env.js';
import { parseProxyUrl, type ProxyEndpoint } from '../sandbox-env/proxy-endpoint.js';
import { caFromFile, writeChildTrust } from './child-trust.js';
import { openLocalVeil, requireLocalData, stderrLogger } from './local.js';
import { nodePreloadPath } from './preload-path.js';

/** Stands in for the proxy token when it is not known: the token is shown only at sandbox creation. */
export const PROXY_TOKEN_MARKER = '<PROXY_TOKEN>';
const MARKER_SENTINEL = 'VEILPROXYTOKENMARKER';

export interface SandboxEnvOptions {
  /** Sandbox id (or, in local mode, its name). */
  sandbox: string;
  env: Env;
  /** Where to look the sandbox up, as adminMode decided it: the remote control plane, or the local data dir. */
  mode: AdminMode;
  proxyUrl?: string | undefined;
  proxyToken?: string | undefined;
  /** The proxy serves this sandbox alone (sidecar): no credentials in the proxy URL. */
  sidecar?: boolean | undefined;
  /** Where the trust files go; default `<data dir>/trust`. */
  trustDir?: string | undefined;
}

export interface SandboxEnvResult {
  vars: Record<string, string>;
  /** True when the proxy URL holds PROXY_TOKEN_MARKER instead of the token. */
  tokenMissing: boolean;
  sandboxId: string;
}

function withCredentials(endpoint: ProxyEndpoint, sandboxId: string, token: string | undefined, sidecar: boolean): ProxyEndpoint {
  if (sidecar) return { host: endpoint.host, port: endpoint.port };
  return { host: endpoint.host, port: endpoint.port, credentials: { username: sandboxId, password: token ?? MARKER_SENTINEL } };
}

function parseProxy(text: string, setting: string): ProxyEndpoint {
  try {
    return parseProxyUrl(text);
  } catch (error) {
    throw new UsageError(`${setting}: ${(error as Error).message}`);
  }
}

export async function sandboxEnv(options: SandboxEnvOptions): Promise<SandboxEnvResult> {
  const env = options.env;
  const token = options.proxyToken ?? (env.VEIL_PROXY_TOKEN || undefined);
  const sidecar = options.sidecar === true;
  const proxyText = options.proxyUrl ?? (env.VEIL_PROXY_URL || undefined);
  const mode = options.mode;
  // Remote mode has no data dir of its own, but the trust files still default to <data dir>/trust.
  const dataDir = mode.kind === 'local' ? mode.dataDir : env.VEIL_DATA_DIR || DEFAULTS.dataDir;
  const trustDir = resolve(options.trustDir ?? join(dataDir, 'trust'));

  let sandboxId: string;
  let placeholders: Record<string, string>;
  let ca: { certPem: string; fingerprint: string };
  let endpoint: ProxyEndpoint;

  if (mode.kind === 'remote') {
    const apiKey = env.VEIL_API_KEY;
    if (!apiKey) throw new UsageError('VEIL_API_URL is set but VEIL_API_KEY is not');
    const sandbox = await new SandboxService({ apiUrl: mode.apiUrl, apiKey }).get(options.sandbox);
    sandboxId = sandbox.id;
    placeholders = sandbox.env ?? {};
    if (!proxyText) throw new UsageError('set VEIL_PROXY_URL (or --proxy-url) to the Veil proxy the sandbox uses');
    endpoint = parseProxy(proxyText, options.proxyUrl ? '--proxy-url' : 'VEIL_PROXY_URL');
    ca = caFromFile(env);
  } else {
    const config = loadConfig({ 'data-dir': mode.dataDir }, env);
    requireLocalData(config, 'pass --data-dir, or set VEIL_API_URL and VEIL_API_KEY');
    const logger = stderrLogger(env.VEIL_LOG_LEVEL || undefined);
    const local = await openLocalVeil(config, logger);
    try {
      const sandbox = await local.plane.services.sandboxes.get(local.orgId, options.sandbox);
      sandboxId = sandbox.id;
      placeholders = sandbox.env;
      const authority = await loadOrCreateCertificateAuthority(config.ca, { logger });
      ca = { certPem: authority.certPem, fingerprint: authority.fingerprint };
      // Default: the proxy of `veil serve` on this machine.
      endpoint = proxyText
        ? parseProxy(proxyText, options.proxyUrl ? '--proxy-url' : 'VEIL_PROXY_URL')
        : { host: config.proxyListen.host === '0.0.0.0' ? '127.0.0.1' : config.proxyListen.host, port: config.proxyListen.port };
    } finally {
      await local.close();
    }
  }

  const { trust, wgetrc } = await writeChildTrust(ca, trustDir);
  const vars = veilEnv({
    placeholders,
    proxy: withCredentials(endpoint, sandboxId, token, sidecar),
    trust,
    nodePreload: nodePreloadPath(),
    wgetrc,
  });
  const tokenMissing = !sidecar && token === undefined;
  if (tokenMissing) {
    const encoded = encodeURIComponent(MARKER_SENTINEL);
    for (const [name, value] of Object.entries(vars)) vars[name] = value.split(encoded).join(PROXY_TOKEN_MARKER);
  }
  return { vars, tokenMissing, sandboxId };
}

