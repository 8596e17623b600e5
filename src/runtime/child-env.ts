/**
 * The environment a child process gets under Veil: placeholders for its mounted secrets, proxy
 * settings every common runtime honours, and trust settings so TLS clients accept the certificates
 * Veil's proxy mints. Pure: inputs -> env object; no I/O.
 *
 * Per runtime:
 * - curl, wget, git, python (urllib, requests), Go, Ruby, Deno: HTTP(S)_PROXY / http(s)_proxy and
 *   NO_PROXY; trust through the bundle variables from src/ca/trust.ts (`trustEnv`). GNU wget built
 *   with GnuTLS ignores SSL_CERT_FILE: WGETRC points at a wgetrc naming the bundle (wgetrc.ts).
 * - Node: its built-in fetch ignores HTTP_PROXY, so NODE_OPTIONS gets `--import` of
 *   dist/runtime/node-proxy-preload.js, which installs undici's EnvHttpProxyAgent as the global
 *   dispatcher (shared with Node's bundled undici, so built-in fetch honours it). axios reads the
 *   proxy variables itself. Trust through NODE_EXTRA_CA_CERTS.
 * - Java: JAVA_TOOL_OPTIONS with the truststore (from trustEnv) and -Dhttp(s).proxyHost/Port and
 *   -Dhttp.nonProxyHosts. Java never sends proxy credentials taken from a URL, and Basic on CONNECT
 *   is disabled by default (jdk.http.auth.tunneling.disabledSchemes): Java clients work with a
 *   sidecar proxy (no credentials) but not with a shared proxy that requires them.
 */
import { jvmOption } from '../ca/trust.js';
import { reservedEnvNameProblem } from '../service/validation.js';
import { LOOPBACK_NO_PROXY, proxyUrlFor, type ProxyEndpoint } from '../sandbox-env/proxy-endpoint.js';

const JAVA_NON_PROXY_HOSTS = 'localhost|127.*|[::1]';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `name` cannot carry a mounted secret, or null when it can. */
export function invalidMountEnvName(name: string): string | null {
  if (!ENV_NAME.test(name)) return `${JSON.stringify(name)} is not a valid environment variable name`;
  return reservedEnvNameProblem(name);
}

export interface VeilEnvInput {
  /** `ENV -> placeholder` for the mounted secrets. */
  placeholders: Readonly<Record<string, string>>;
  proxy: ProxyEndpoint;
  /** The trust variables from src/ca/trust.ts `trustEnv` (bundle paths, JAVA_TOOL_OPTIONS truststore). */
  trust: Readonly<Record<string, string>>;
  /** Absolute path (or file: URL) of dist/runtime/node-proxy-preload.js; omit to leave NODE_OPTIONS alone. */
  nodePreload?: string | undefined;
  /** Hosts that bypass the proxy; default loopback only. */
  noProxy?: readonly string[] | undefined;
  /** A wgetrc with `ca_certificate = <bundle>` (see wgetrc.ts), set as WGETRC. */
  wgetrc?: string | undefined;
}

function javaProxyOptions(proxy: ProxyEndpoint, noProxy: readonly string[]): string[] {
  const nonProxy = noProxy === LOOPBACK_NO_PROXY ? JAVA_NON_PROXY_HOSTS : noProxy.map((h) => (h.includes(':') ? `[${h}]` : h)).join('|');
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return [
    `-Dhttp.proxyHost=${host}`,
    `-Dhttp.proxyPort=${proxy.port}`,
    `-Dhttps.proxyHost=${host}`,
    `-Dhttps.proxyPort=${proxy.port}`,
    jvmOption(`-Dhttp.nonProxyHosts=${nonProxy}`),
  ];
}

/** `--import=<file URL>`: a URL has no spaces, so NODE_OPTIONS needs no quoting. */
export function nodeImportOption(preload: string): string {
  if (preload.startsWith('file:')) return `--import=${preload}`;
  if (!preload.startsWith('/')) throw new TypeError('node preload path must be absolute');
  const url = new URL('file://');
  url.pathname = preload;
  return `--import=${url.href}`;
}

/**
 * Exactly the variables Veil sets for a child (what `veil env` prints). NODE_OPTIONS and
 * JAVA_TOOL_OPTIONS hold only Veil's part here; `buildChildEnv` merges them with the parent's.
 */
export function veilEnv(input: VeilEnvInput): Record<string, string> {
  const noProxy = input.noProxy ?? LOOPBACK_NO_PROXY;
  const proxyUrl = proxyUrlFor(input.proxy);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.trust)) env[name] = value;
  const noProxyText = noProxy.join(',');
  Object.assign(env, {
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    NO_PROXY: noProxyText,
    no_proxy: noProxyText,
  });
  const java = [input.trust.JAVA_TOOL_OPTIONS, ...javaProxyOptions(input.proxy, noProxy)].filter((part): part is string => !!part);
  env.JAVA_TOOL_OPTIONS = java.join(' ');
  if (input.nodePreload !== undefined) env.NODE_OPTIONS = nodeImportOption(input.nodePreload);
  // Node >= 22.21 / 24: node:http(s) and fetch honour the proxy variables natively (ignored by Node 20).
  env.NODE_USE_ENV_PROXY = '1';
  if (input.wgetrc !== undefined) env.WGETRC = input.wgetrc;
  for (const [name, placeholder] of Object.entries(input.placeholders)) {
    const problem = invalidMountEnvName(name);
    if (problem) throw new TypeError(problem);
    env[name] = placeholder;
  }
  return env;
}

/**
 * Bundle variables some tools read that Veil does not set on its own (they are rarely wanted), but
 * that replace a client's roots when a parent environment has them: a child inheriting one would
 * not trust Veil's CA, so an inherited one is pointed at the merged bundle too.
 */
export const INHERITED_BUNDLE_ENV_NAMES = ['NIX_SSL_CERT_FILE', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH', 'HTTPLIB2_CA_CERTS', 'CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE'] as const;

/** Parent variables a child must not inherit: Veil's own settings carry API keys and tokens. */
function inheritable(name: string): boolean {
  return !name.startsWith('VEIL_');
}

/**
 * The full env of a child: the parent's env without VEIL_* variables (API key, proxy token, master
 * key), plus `veilEnv`. NODE_OPTIONS and JAVA_TOOL_OPTIONS keep the parent's options first.
 * A parent variable of the same name as a mount (say a real OPENAI_API_KEY) is replaced by the
 * placeholder.
 */
export function buildChildEnv(parent: Readonly<Record<string, string | undefined>>, input: VeilEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && inheritable(name)) env[name] = value;
  }
  const veil = veilEnv(input);
  const bundle = input.trust.SSL_CERT_FILE;
  if (bundle) {
    for (const name of INHERITED_BUNDLE_ENV_NAMES) if (env[name] !== undefined) env[name] = bundle;
  }
  for (const [name, value] of Object.entries(veil)) {
    if (name === 'NODE_OPTIONS' || name === 'JAVA_TOOL_OPTIONS') {
      const existing = parent[name]?.trim();
      if (existing && existing.includes(value)) {
        env[name] = existing;
        continue;
      }
      env[name] = existing ? `${existing} ${value}` : value;
    } else {
      env[name] = value;
    }
  }
  return env;
}
