/**
 * Where a client command (`veil secrets`, `orgs`, `keys`, `run`, `env`) acts: the one rule.
 *
 * - remote: an API URL is set (`--api-url`, else VEIL_API_URL) and `--data-dir` is not given.
 *   The command talks to that control plane with VEIL_API_KEY.
 * - local: otherwise. The command opens the store in-process: PostgreSQL when VEIL_DATABASE_URL
 *   is set, else `<data dir>/veil.db`, where the data dir is `--data-dir`, else VEIL_DATA_DIR,
 *   else `./.veil` (the master key and admin key file live there in both cases).
 *
 * An explicit `--data-dir` wins over an API URL. VEIL_DATA_DIR does not: it is only where local
 * mode looks, so it can stay exported next to VEIL_API_URL. VEIL_DATABASE_URL never selects the
 * mode, only the store of local mode. An empty environment variable counts as unset.
 */
import { DEFAULTS, type Env } from './config.js';
import { parseDatabaseUrl, parseHttpUrl, parseNonEmpty } from './parse.js';

export interface ModeFlags {
  'api-url'?: string | undefined;
  'data-dir'?: string | undefined;
}

export type AdminMode =
  | { kind: 'remote'; apiUrl: string }
  | {
      kind: 'local';
      dataDir: string;
      /** True when `--data-dir` was given (it is what forced local mode if an API URL is set). */
      dataDirFlag: boolean;
      /** VEIL_DATABASE_URL: PostgreSQL instead of SQLite in dataDir. */
      databaseUrl: string | undefined;
    };

/** The API URL from `--api-url` or VEIL_API_URL (checked), or undefined when neither is set. */
export function apiUrlSetting(flags: Pick<ModeFlags, 'api-url'>, env: Env): string | undefined {
  const flag = flags['api-url'];
  if (flag !== undefined) return parseHttpUrl('--api-url', flag);
  const fromEnv = env.VEIL_API_URL;
  return fromEnv ? parseHttpUrl('VEIL_API_URL', fromEnv) : undefined;
}

export function adminMode(flags: ModeFlags, env: Env): AdminMode {
  // Checked even when --data-dir makes it unused, as loadConfig does: a typo is reported, not ignored.
  const apiUrl = apiUrlSetting(flags, env);
  const dataDirFlag = flags['data-dir'];
  if (apiUrl !== undefined && dataDirFlag === undefined) return { kind: 'remote', apiUrl };
  const dataDir =
    dataDirFlag !== undefined ? parseNonEmpty('--data-dir', dataDirFlag) : env.VEIL_DATA_DIR ? parseNonEmpty('VEIL_DATA_DIR', env.VEIL_DATA_DIR) : DEFAULTS.dataDir;
  const databaseUrl = env.VEIL_DATABASE_URL ? parseDatabaseUrl('VEIL_DATABASE_URL', env.VEIL_DATABASE_URL) : undefined;
  return { kind: 'local', dataDir, dataDirFlag: dataDirFlag !== undefined, databaseUrl };
}
