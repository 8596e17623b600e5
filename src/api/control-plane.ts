/**
 * Convenience composition of the control plane: master key, bootstrap, services, resolver and the
 * fastify app (not listening yet) over a repository the caller opened (src/app/repository.ts
 * `openRepository` is the one place that opens the store). `src/app` uses it for `veil serve`;
 * tests use it to start a real server.
 */
import type { FastifyInstance } from 'fastify';
import { decryptValue, DecryptionError } from '../crypto/envelope.js';
import { loadOrCreateMasterKey, ensurePrivateDir, MasterKeyError, type LoadedMasterKey } from '../crypto/master-key.js';
import { LocalChangeFeed } from '../events/local-feed.js';
import type { ChangeFeed } from '../events/types.js';
import type { Logger } from '../log/logger.js';
import { LocalResolver } from '../resolver/local.js';
import { bootstrap, createServices, findRefusedHostPatterns, type BootstrapResult, type Services } from '../service/index.js';
import type { Repository } from '../store/types.js';
import { buildApi, type SandboxAccess } from './server.js';

export interface ControlPlaneOptions {
  dataDir: string;
  logger: Logger;
  /** VEIL_MASTER_KEY (base64, 32 bytes); else `<dataDir>/master.key`. */
  masterKeyEnv?: string | undefined;
  /** VEIL_ADMIN_API_KEY (>= 32 chars); else a generated key in `<dataDir>/admin-api-key`. */
  adminApiKeyEnv?: string | undefined;
  /** The open, migrated store (see src/app/repository.ts). Owned by the caller: close() leaves it open. */
  repository: Repository;
  /** Defaults to an in-process LocalChangeFeed. */
  feed?: ChangeFeed;
  /** See ApiDeps.sandboxAccess. */
  sandboxAccess?: () => SandboxAccess | undefined;
  /** See ApiDeps.eventsHeartbeatMs. */
  eventsHeartbeatMs?: number;
}

export interface ControlPlane {
  /** Not listening: call `app.listen({host, port})`. */
  app: FastifyInstance;
  repository: Repository;
  services: Services;
  feed: ChangeFeed;
  resolver: LocalResolver;
  masterKey: LoadedMasterKey;
  bootstrap: BootstrapResult;
  /** Closes the app (not the repository: whoever opened it closes it). */
  close(): Promise<void>;
}

/**
 * Fails fast when the master key cannot open the stored secrets (a wrong VEIL_MASTER_KEY, or a
 * lost master.key replaced by a fresh one) instead of failing every proxy request later. Checks
 * the newest secret of each org.
 */
export async function verifyMasterKey(repository: Repository, masterKey: LoadedMasterKey): Promise<void> {
  for (const org of await repository.listOrgs()) {
    const { items } = await repository.pageSecrets({ orgId: org.id, limit: 1, sort: 'createdAt', order: 'desc' });
    const secret = items[0];
    if (!secret) continue;
    try {
      decryptValue(masterKey.key, { orgId: secret.orgId, secretId: secret.id }, secret.encryptedValue);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      const source = masterKey.source === 'env' ? 'VEIL_MASTER_KEY' : `the master key in ${masterKey.file}`;
      throw new MasterKeyError(`${source} does not decrypt the stored secrets (secret "${secret.name}" of org "${org.name}"); start with the master key they were written with`);
    }
  }
}

/** One warning per stored host pattern the proxy will not use (names and patterns only, never a value). */
async function warnRefusedHostPatterns(repository: Repository, logger: Logger): Promise<void> {
  for (const entry of await findRefusedHostPatterns(repository)) {
    logger.warn(
      { org: entry.orgName, secret: entry.secretName, pattern: entry.pattern },
      `secret "${entry.secretName}" of org "${entry.orgName}": host pattern ${JSON.stringify(entry.pattern)} ${entry.reason}; it is ignored (the value is never sent for it): update the secret's hosts`,
    );
  }
}

export async function openControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  await ensurePrivateDir(options.dataDir);
  const masterKey = await loadOrCreateMasterKey({ env: options.masterKeyEnv, dataDir: options.dataDir });
  const repository = options.repository;
  await verifyMasterKey(repository, masterKey);
  await warnRefusedHostPatterns(repository, options.logger);
  const boot = await bootstrap({ repo: repository, dataDir: options.dataDir, adminApiKey: options.adminApiKeyEnv, logger: options.logger });
  const feed = options.feed ?? new LocalChangeFeed();
  const services = createServices({ repo: repository, masterKey: masterKey.key, feed });
  const resolver = new LocalResolver(repository, masterKey.key);
  const app = await buildApi({
    repository,
    feed,
    logger: options.logger,
    masterKey: masterKey.key,
    services,
    resolver,
    ...(options.sandboxAccess ? { sandboxAccess: options.sandboxAccess } : {}),
    ...(options.eventsHeartbeatMs !== undefined ? { eventsHeartbeatMs: options.eventsHeartbeatMs } : {}),
  });
  let closed = false;
  return {
    app,
    repository,
    services,
    feed,
    resolver,
    masterKey,
    bootstrap: boot,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}
