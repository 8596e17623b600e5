/**
 * The env template in `POST /sandbox` replies: what a sandbox on another machine sets to use the
 * proxy, next to `caCertPem`. Trust variables point at fixed paths the sandbox writes once:
 * `caCertPem` to SANDBOX_CA_PATH and its own system roots plus `caCertPem` to
 * SANDBOX_CA_BUNDLE_PATH (never the CA alone where a variable replaces the default roots).
 * Java needs a truststore file, so it is left to `veil env` / `veil run`.
 */
import { BUNDLE_ENV_NAMES } from '../ca/trust.js';
import { LOOPBACK_NO_PROXY, parseProxyUrl, proxyUrlFor } from './proxy-endpoint.js';

export const SANDBOX_CA_PATH = '/etc/veil/ca.pem';
export const SANDBOX_CA_BUNDLE_PATH = '/etc/veil/ca-bundle.pem';

export function sandboxProxyEnv(proxyUrl: string, sandboxId: string, proxyToken: string): Record<string, string> {
  const { host, port } = parseProxyUrl(proxyUrl);
  const withCredentials = proxyUrlFor({ host, port, credentials: { username: sandboxId, password: proxyToken } });
  const noProxy = LOOPBACK_NO_PROXY.join(',');
  const env: Record<string, string> = {
    HTTP_PROXY: withCredentials,
    HTTPS_PROXY: withCredentials,
    http_proxy: withCredentials,
    https_proxy: withCredentials,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
  };
  for (const name of BUNDLE_ENV_NAMES) env[name] = SANDBOX_CA_BUNDLE_PATH;
  env.NODE_EXTRA_CA_CERTS = SANDBOX_CA_PATH;
  return env;
}
