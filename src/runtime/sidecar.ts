/**
 * The in-process proxy of local-mode `veil run`: sidecar mode for one sandbox (no credentials in the
 * child's env), on a free 127.0.0.1 port, over the same store as the control plane.
 */
import { loadOrCreateCertificateAuthority, type LocalCertificateAuthority } from '../ca/index.js';
import type { VeilConfig } from '../config/index.js';
import type { ResolveEntry } from '../config/parse.js';
import { normalizeDestinationHost } from '../hosts/hosts.js';
import type { Logger } from '../log/logger.js';
import { startProxy } from '../proxy/index.js';
import type { LocalVeil } from './local.js';

/** VEIL_RESOLVE entries -> the proxy's pins (host -> IP). The proxy pins per host, for every port. */
export function pinsFromConfig(entries: readonly ResolveEntry[]): Map<string, string> {
  const pins = new Map<string, string>();
  for (const entry of entries) pins.set(normalizeDestinationHost(entry.host), entry.address);
  return pins;
}

export async function loadCa(config: VeilConfig, logger: Logger): Promise<LocalCertificateAuthority> {
  return loadOrCreateCertificateAuthority(config.ca, { logger });
}

export interface Sidecar {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startSidecarProxy(options: {
  local: LocalVeil;
  config: VeilConfig;
  ca: LocalCertificateAuthority;
  sandboxId: string;
  logger: Logger;
}): Promise<Sidecar> {
  const { config, local } = options;
  const started = await startProxy({
    resolver: local.plane.resolver,
    feed: local.plane.feed,
    ca: options.ca,
    logger: options.logger,
    sandboxId: options.sandboxId,
    disallowed: config.disallowed,
    allowUnrestrictedSecrets: config.allowUnrestrictedSecrets,
    ...(config.upstreamCaFile ? { upstreamCaFile: config.upstreamCaFile } : {}),
    resolve: pinsFromConfig(config.resolve),
    host: '127.0.0.1',
    port: 0,
  });
  const url = new URL(started.url);
  return { host: url.hostname, port: Number(url.port), close: started.close };
}
