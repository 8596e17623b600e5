/**
 * Starts the embedded egress proxy of `veil serve`: same process, same store (through the
 * in-process resolver) and the API's change feed, so a write through the API is seen by the very
 * next proxied request.
 */
import { loadOrCreateCertificateAuthority } from '../ca/index.js';
import type { VeilConfig } from '../config/index.js';
import type { ChangeFeed } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import { startProxy } from '../proxy/index.js';
import type { SecretResolver } from '../resolver/types.js';
import { proxyOptionsFromConfig } from './proxy-options.js';

export interface EmbeddedProxyContext {
  config: VeilConfig;
  /** In-process resolver over the same store and master key as the API. */
  resolver: SecretResolver;
  /** The API's change feed: secret/sandbox writes invalidate the proxy's mapping cache. */
  feed: ChangeFeed;
  logger: Logger;
}

export interface EmbeddedProxy {
  /** `http://host:port` of the listening proxy. */
  url: string;
  /** The CA it intercepts with: sandboxes must trust it. */
  caCertPem: string;
  /** Stop accepting, drain in-flight requests, release sockets. */
  close(): Promise<void>;
}

export async function startEmbeddedProxy(context: EmbeddedProxyContext): Promise<EmbeddedProxy | undefined> {
  const { config, resolver, feed, logger } = context;
  if (!config.proxyEnabled) return undefined;
  const ca = await loadOrCreateCertificateAuthority(config.ca, { logger });
  const proxy = await startProxy({ resolver, feed, ca, logger, ...proxyOptionsFromConfig(config) });
  return { url: proxy.url, caCertPem: ca.certPem, close: proxy.close };
}
