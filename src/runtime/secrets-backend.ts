/**
 * Where `veil secrets` acts, as adminMode decided it (the caller passes the mode): the control
 * plane over HTTP (an API URL, no --data-dir), or the data directory in-process (local mode, the
 * same store `veil run` uses; safe next to a running `veil serve` thanks to SQLite WAL). Mirrors
 * src/cli/admin-backend.ts for orgs/keys.
 */
import { SecretService, type CreateSecretParams, type Secret, type UpdateSecretParams } from '../client/index.js';
import { loadConfig, type AdminMode, type Env } from '../config/index.js';
import { clientOptionsFrom } from './client-options.js';

export interface SecretsBackend {
  /** The API URL or the data directory, for messages. */
  readonly where: string;
  list(): Promise<Secret[]>;
  get(idOrName: string): Promise<Secret>;
  create(params: CreateSecretParams): Promise<Secret>;
  update(idOrName: string, params: UpdateSecretParams): Promise<Secret>;
  delete(idOrName: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * `initialize`: may create the data directory (master key, database, bootstrap admin key) when it
 * holds no Veil data yet: true for `secrets create`, the first step of local use. Other
 * subcommands refuse an empty directory, so a typo does not conjure an empty store.
 */
export async function openSecretsBackend(mode: AdminMode, env: Env, options: { initialize: boolean }): Promise<SecretsBackend> {
  if (mode.kind === 'remote') {
    const service = new SecretService(clientOptionsFrom(env, mode.apiUrl));
    return {
      where: mode.apiUrl,
      list: () => service.list(),
      get: (idOrName) => service.get(idOrName),
      create: (params) => service.create(params),
      update: (idOrName, params) => service.update(idOrName, params),
      delete: (idOrName) => service.delete(idOrName),
      close: async () => undefined,
    };
  }
  const config = loadConfig({ 'data-dir': mode.dataDir }, env);
  // Loaded lazily: client-only use of the CLI should not open native modules.
  const { LocalSecretService, openLocalVeil, requireLocalData, stderrLogger } = await import('./local.js');
  if (!options.initialize) requireLocalData(config, 'create a secret first, pass --data-dir, or set VEIL_API_URL and VEIL_API_KEY');
  const local = await openLocalVeil(config, stderrLogger(env.VEIL_LOG_LEVEL || undefined));
  const service = new LocalSecretService(local);
  return {
    where: config.databaseUrl ? 'the PostgreSQL database' : config.dataDir,
    list: () => service.list(),
    get: (idOrName) => service.get(idOrName),
    create: (params) => service.create(params),
    update: (idOrName, params) => service.update(idOrName, params),
    delete: (idOrName) => service.delete(idOrName),
    close: () => local.close(),
  };
}
