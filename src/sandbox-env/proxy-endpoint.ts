/**
 * How a sandbox names the proxy it goes through: `http://[sandboxId:proxyToken@]host:port`, plus the
 * loopback names that stay direct. Pure; shared by the control plane's `POST /sandbox` env template
 * and by `veil run`/`veil env`.
 */
import { parseProxyAddress } from '../config/parse.js';

/** Loopback stays direct: a child talking to a local service must not loop through the proxy. */
export const LOOPBACK_NO_PROXY = ['localhost', '127.0.0.1', '::1'] as const;

export interface ProxyEndpoint {
  host: string;
  port: number;
  /** Present for a shared proxy: Basic credentials `sandboxId:proxyToken`. Absent in sidecar mode. */
  credentials?: { username: string; password: string } | undefined;
}

/** `http://[user:pass@]host:port` with the credential parts percent-encoded. */
export function proxyUrlFor(endpoint: ProxyEndpoint): string {
  const host = endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host;
  const auth = endpoint.credentials
    ? `${encodeURIComponent(endpoint.credentials.username)}:${encodeURIComponent(endpoint.credentials.password)}@`
    : '';
  return `http://${auth}${host}:${endpoint.port}`;
}

/** Parses `http://[user:pass@]host:port[/]` into an endpoint. Throws TypeError on anything else. */
export function parseProxyUrl(text: string): ProxyEndpoint {
  const { host, port, credentials } = parseProxyAddress(text);
  return credentials ? { host, port, credentials } : { host, port };
}
