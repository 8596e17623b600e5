/**
 * The in-process proxy of local-mode `veil run`: sidecar mode for one sandbox (no credentials in the
 * child's env), on a free 127.0.0.1 port, over the same store as the control plane. Every other
 * proxy setting comes from the config exactly as `veil serve` reads it.
 */
import type { CertificateAuthority } from '../ca/types.js';
import type { VeilConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { proxyOptionsFromConfig } from '../app/proxy-options.js';
import { startProxy } from '../proxy/index.js';
import type { LocalVeil } from './local.js';

export interface Sidecar {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startSidecarProxy(options: {
  local: LocalVeil;
  config: VeilConfig;
  ca: CertificateAuthority;
  sandboxId: string;
  logger: Logger;
}): Promise<Sidecar> {
  const { config, local } = options;
  const started = await startProxy({
    resolver: local.plane.resolver,
    feed: local.plane.feed,
    ca: options.ca,
    logger: options.logger,
    ...proxyOptionsFromConfig(config),
    sandboxId: options.sandboxId,
    host: '127.0.0.1',
    port: 0,
  });
  const url = new URL(started.url);
  return { host: url.hostname, port: Number(url.port), close: started.close };
}
