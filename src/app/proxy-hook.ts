/**
 * PROXY HOOK: where `startVeil` starts the embedded egress proxy. The lead wires src/proxy in here;
 * start.ts calls this once the store and API are up and includes `url` in the ready line.
 * Returning undefined means "no proxy running" (the ready line then has no proxyUrl).
 */
import type { VeilConfig } from '../config/index.js';
import type { ChangeFeed } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import type { SecretResolver } from '../resolver/types.js';

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
  /** Stop accepting, drain in-flight requests, release sockets. */
  close(): Promise<void>;
}

export async function startEmbeddedProxy(context: EmbeddedProxyContext): Promise<EmbeddedProxy | undefined> {
  if (!context.config.proxyEnabled) return undefined;
  // Not wired yet: src/proxy is being built. Until then `veil serve` runs the control plane only.
  context.logger.warn('the egress proxy is not available in this build; serving the API only');
  return undefined;
}
