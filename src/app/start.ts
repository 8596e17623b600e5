/**
 * Composition root: wires store, master key, bootstrap, services, API and (via proxy-hook.ts) the
 * egress proxy into one running instance. Used by `veil serve` and by tests in-process.
 */
import { readFile } from 'node:fs/promises';
import { openControlPlane } from '../api/index.js';
import type { SandboxAccess } from '../api/server.js';
import { resolveCaLocation } from '../ca/index.js';
import type { VeilConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log/logger.js';
import { urlForAddress } from './listen-url.js';
import { startEmbeddedProxy, type EmbeddedProxy } from './proxy-hook.js';
import { openChangeFeed, openRepository } from './repository.js';

export interface StartOptions {
  /** Defaults to a pino logger on stdout at config.logLevel. */
  logger?: Logger;
  /**
   * Runs when everything listens, just before the "ready" line (which must be the last word of a
   * start: whoever waits for it may act at once). `veil serve` prints the generated admin key here.
   */
  beforeReady?: (veil: Pick<RunningVeil, 'apiUrl' | 'adminApiKey' | 'adminApiKeyFile'>) => void;
}

export interface RunningVeil {
  /** `http://host:port` of the control-plane API. */
  apiUrl: string;
  /** `http://host:port` of the egress proxy, when it runs. */
  proxyUrl?: string;
  /** Only when this start generated the bootstrap admin key: show it once. */
  adminApiKey?: string;
  /** The file holding the generated admin key (`<dataDir>/admin-api-key`), if any. */
  adminApiKeyFile?: string;
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish, then closes the store. Idempotent. */
  close(): Promise<void>;
}

export async function startVeil(config: VeilConfig, options: StartOptions = {}): Promise<RunningVeil> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });

  // Closed in reverse order of opening: listeners first (drain in-flight requests), the store last.
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => logger.error({ err: error }, 'error while shutting down'));
    }
  };

  try {
    const repository = await openRepository(config);
    closers.push(() => repository.close());
    // Every process on one store shares change events (PostgreSQL: LISTEN/NOTIFY; SQLite: a table
    // polled through data_version), so a write through any replica or the CLI reaches the proxies
    // (and event streams) attached to every other one.
    const feed = await openChangeFeed(config, logger);
    closers.push(() => feed.close());
    let sandboxAccess: SandboxAccess | undefined;
    const plane = await openControlPlane({
      dataDir: config.dataDir,
      logger,
      masterKeyEnv: config.masterKey,
      adminApiKeyEnv: config.adminApiKey,
      repository,
      ...(feed ? { feed } : {}),
      sandboxAccess: () => sandboxAccess,
    });
    closers.push(() => plane.close());
    if (plane.masterKey.created) {
      logger.info({ file: plane.masterKey.file }, 'generated a new master key (back it up: without it the stored values cannot be decrypted)');
    }
    const boot = plane.bootstrap;

    // The proxy starts before the API listens, so every `POST /sandbox` reply can say how to use it.
    const proxy = await startEmbeddedProxy({ config, resolver: plane.resolver, feed: plane.feed, logger });
    if (proxy) closers.push(() => proxy.close());
    sandboxAccess = await sandboxAccessFor(config, proxy, logger);

    await plane.app.listen({ host: config.apiListen.host, port: config.apiListen.port });
    const apiUrl = urlForAddress(plane.app.server.address());

    options.beforeReady?.({
      apiUrl,
      ...(boot.generatedAdminApiKey ? { adminApiKey: boot.generatedAdminApiKey } : {}),
      ...(boot.adminApiKeyFile ? { adminApiKeyFile: boot.adminApiKeyFile } : {}),
    });
    // The one machine-readable "ready" line: tests and supervisors wait for it.
    logger.info({ apiUrl, ...(proxy ? { proxyUrl: proxy.url } : {}) }, 'ready');
    logger.flush(); // supervisors and tests wait for this line: do not leave it in the batch

    let closing: Promise<void> | undefined;
    return {
      apiUrl,
      ...(proxy ? { proxyUrl: proxy.url } : {}),
      ...(boot.generatedAdminApiKey ? { adminApiKey: boot.generatedAdminApiKey } : {}),
      ...(boot.adminApiKeyFile ? { adminApiKeyFile: boot.adminApiKeyFile } : {}),
      logger,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * How sandboxes reach the proxy and which CA they must trust: the embedded proxy (or
 * VEIL_PROXY_PUBLIC_URL, when sandboxes see it at another address); with `--no-proxy`, only when
 * VEIL_PROXY_PUBLIC_URL names the shared proxy and its CA certificate is at hand.
 */
async function sandboxAccessFor(config: VeilConfig, proxy: EmbeddedProxy | undefined, logger: Logger): Promise<SandboxAccess | undefined> {
  if (proxy) return { proxyUrl: config.proxyPublicUrl ?? proxy.url, caCertPem: proxy.caCertPem };
  if (config.proxyPublicUrl === undefined) return undefined;
  const certFile = resolveCaLocation(config.ca).certFile;
  try {
    return { proxyUrl: config.proxyPublicUrl, caCertPem: await readFile(certFile, 'utf8') };
  } catch {
    logger.warn({ certFile }, 'VEIL_PROXY_PUBLIC_URL is set but the CA certificate cannot be read: POST /sandbox replies will not include proxy settings');
    return undefined;
  }
}
