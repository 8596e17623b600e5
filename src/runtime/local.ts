/**
 * Local mode: no control plane over HTTP, the data dir opened in-process (the same store, master key
 * and bootstrap as `veil serve`). Used by `veil run`, `veil env` and the client commands when
 * adminMode (src/config/mode.ts) says local: no API URL, or --data-dir. Everything acts in the
 * `default` org, like the bootstrap admin key.
 */
import { destination } from 'pino';
import { openControlPlane, type ControlPlane } from '../api/control-plane.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openChangeFeed, openRepository, SQLITE_FILE, type SharedChangeFeed } from '../app/repository.js';
import type { CreateSecretParams, Secret, UpdateSecretParams } from '../client/types.js';
import { UsageError, type VeilConfig } from '../config/index.js';
import { NotFoundError } from '../errors.js';
import { isUuid } from '../ids.js';
import { createLogger, type Logger } from '../log/logger.js';

export interface LocalVeil {
  plane: ControlPlane;
  /** The `default` org, where local mode keeps everything. */
  orgId: string;
  logger: Logger;
  close(): Promise<void>;
}

/**
 * A logger for commands whose stdout belongs to someone else (the child of `veil run`, the output
 * of `veil env`): JSON lines on stderr, `warn` unless VEIL_LOG_LEVEL says otherwise.
 */
export function stderrLogger(level: string | undefined): Logger {
  return createLogger({ level: level ?? 'warn' }, destination({ fd: 2, sync: true }));
}

/** Refuses a data directory without Veil data, so a typo or a wrong cwd does not conjure an empty store. */
export function requireLocalData(config: Pick<VeilConfig, 'dataDir' | 'databaseUrl'>, hint: string): void {
  if (config.databaseUrl || existsSync(join(config.dataDir, SQLITE_FILE))) return;
  throw new UsageError(`no Veil data in ${JSON.stringify(config.dataDir)} (no ${SQLITE_FILE}); ${hint}`);
}

export async function openLocalVeil(config: VeilConfig, logger: Logger): Promise<LocalVeil> {
  const repository = await openRepository(config);
  // Writes from here reach the `veil serve` processes on the same store like their own.
  let feed: SharedChangeFeed | undefined;
  let plane: ControlPlane;
  try {
    feed = await openChangeFeed(config, logger, { applicationName: 'veil-cli' });
    plane = await openControlPlane({
      dataDir: config.dataDir,
      logger,
      masterKeyEnv: config.masterKey,
      adminApiKeyEnv: config.adminApiKey,
      repository,
      ...(feed ? { feed } : {}),
    });
  } catch (error) {
    await feed?.close();
    await repository.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    plane,
    orgId: plane.bootstrap.defaultOrg.id,
    logger,
    close: () =>
      (closing ??= (async () => {
        await plane.close().catch(() => {});
        await feed?.close();
        await repository.close();
      })()),
  };
}

/**
 * The client's SecretService surface (list/get/create/update/delete) over the local services, so
 * `veil secrets ...` works without a running control plane. Same shapes as the HTTP API returns.
 */
export class LocalSecretService {
  constructor(private readonly local: LocalVeil) {}

  list(): Promise<Secret[]> {
    return this.local.plane.services.secrets.list(this.local.orgId);
  }

  /** By id, or by exact name. */
  async get(idOrName: string): Promise<Secret> {
    const secrets = this.local.plane.services.secrets;
    if (isUuid(idOrName)) {
      try {
        return await secrets.get(this.local.orgId, idOrName);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    const found = (await secrets.list(this.local.orgId)).find((secret) => secret.name === idOrName);
    if (!found) throw new NotFoundError(`secret "${idOrName}" not found`);
    return found;
  }

  create(params: CreateSecretParams): Promise<Secret> {
    return this.local.plane.services.secrets.create(this.local.orgId, params);
  }

  async update(idOrName: string, params: UpdateSecretParams): Promise<Secret> {
    const id = (await this.get(idOrName)).id;
    return this.local.plane.services.secrets.update(this.local.orgId, id, params);
  }

  async delete(idOrName: string): Promise<void> {
    const id = (await this.get(idOrName)).id;
    await this.local.plane.services.secrets.delete(this.local.orgId, id);
  }
}
