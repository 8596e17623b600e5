/**
 * Composition of the stand-alone proxy (`veil proxy`): RemoteResolver + SseChangeFeed against a
 * control plane, the existing MappingCache (inside startProxy) per sandbox, and the local CA.
 */
import { loadOrCreateCertificateAuthority } from '../ca/index.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { SseChangeFeed } from '../events/sse-client.js';
import { createLogger, type Logger } from '../log/logger.js';
import { startProxy } from '../proxy/index.js';
import { createControlPlaneAgent, RemoteResolver } from '../resolver/remote.js';
import { proxyOptionsFromConfig } from './proxy-options.js';

export interface RemoteProxyOptions {
  logger?: Logger;
  /** Wait this long for the first change stream before logging ready (it keeps retrying after). */
  firstStreamWaitMs?: number;
}

export interface RunningRemoteProxy {
  proxyUrl: string;
  logger: Logger;
  close(): Promise<void>;
}

export async function startRemoteProxy(config: ProxyConfig, options: RemoteProxyOptions = {}): Promise<RunningRemoteProxy> {
  const { shared } = config;
  const logger = options.logger ?? createLogger({ level: shared.logLevel });
  const agent = createControlPlaneAgent({ caFile: config.controlPlaneCaFile });
  const resolver = new RemoteResolver({ baseUrl: config.controlPlaneUrl, apiKey: config.apiKey, dispatcher: agent });
  let lastStreamError = '';
  const feed = SseChangeFeed.start({
    baseUrl: config.controlPlaneUrl,
    apiKey: config.apiKey,
    dispatcher: agent,
    onConnect: (hello, reconnect) => {
      lastStreamError = '';
      logger.info({ orgId: hello.orgId, sandboxId: hello.sandboxId, reconnect }, 'change stream connected (cache reset)');
    },
    onError: (error) => {
      // Logged once per distinct failure, not once per retry.
      if (error.message === lastStreamError) return;
      lastStreamError = error.message;
      logger.warn({ err: { message: error.message } }, 'change stream down: reconnecting (cached entries expire on their TTL meanwhile)');
    },
  });
  try {
    const ca = await loadOrCreateCertificateAuthority(shared.ca, { logger });
    const streamConnected = await feed.waitUntilConnected(options.firstStreamWaitMs ?? 10_000);
    const proxy = await startProxy({ resolver, feed, ca, logger, ...proxyOptionsFromConfig(shared) });
    logger.info(
      { proxyUrl: proxy.url, controlPlane: config.controlPlaneUrl, caCertFile: ca.certFile, changeStream: streamConnected ? 'connected' : 'connecting' },
      'ready',
    );
    logger.flush(); // supervisors and tests wait for this line: do not leave it in the batch
    let closing: Promise<void> | undefined;
    return {
      proxyUrl: proxy.url,
      logger,
      close: () =>
        (closing ??= (async () => {
          await proxy.close();
          await feed.close();
          await agent.close().catch(() => undefined);
        })()),
    };
  } catch (error) {
    await feed.close();
    await agent.close().catch(() => undefined);
    throw error;
  }
}
