/**
 * The proxy settings `veil serve` (embedded proxy) and `veil proxy` (stand-alone) share, from one
 * VeilConfig, so both commands honour every flag and env var the same way.
 */
import type { VeilConfig } from '../config/index.js';
import { pinsFromEntries, type ProxyOptions } from '../proxy/index.js';

export type ConfiguredProxyOptions = Omit<ProxyOptions, 'resolver' | 'feed' | 'ca' | 'logger'> & { host: string; port: number };

export function proxyOptionsFromConfig(config: VeilConfig): ConfiguredProxyOptions {
  const { ttlMs, staleMs } = config.proxyCache;
  const { memoryBytes, maxBytes, spillDir } = config.proxyBody;
  return {
    ...(config.sandboxId !== undefined ? { sandboxId: config.sandboxId } : {}),
    disallowed: config.disallowed,
    allowUnrestrictedSecrets: config.allowUnrestrictedSecrets,
    nonTlsConnect: config.nonTlsConnect,
    ...(config.upstreamCaFile !== undefined ? { upstreamCaFile: config.upstreamCaFile } : {}),
    resolve: pinsFromEntries(config.resolve),
    cache: { ...(ttlMs !== undefined ? { ttlMs } : {}), ...(staleMs !== undefined ? { staleMs } : {}) },
    body: {
      ...(memoryBytes !== undefined ? { memoryLimit: memoryBytes } : {}),
      ...(maxBytes !== undefined ? { hardCap: maxBytes } : {}),
      ...(spillDir !== undefined ? { tmpDir: spillDir } : {}),
    },
    host: config.proxyListen.host,
    port: config.proxyListen.port,
  };
}
