import type { ClientOptions } from '../client/index.js';
import { adminMode, apiUrlSetting, UsageError, type AdminMode, type Env, type ModeFlags } from '../config/index.js';

/** `--api-url` flag for client commands (the key only comes from VEIL_API_KEY: keep it off argv). */
export const REMOTE_FLAGS = {
  'api-url': { type: 'string' },
} as const;

/** Client options for commands that always talk to a control plane. */
export function clientOptionsFrom(env: Env, apiUrlFlag: string | undefined): ClientOptions {
  const apiUrl = apiUrlSetting({ 'api-url': apiUrlFlag }, env);
  if (!apiUrl) throw new UsageError('set VEIL_API_URL (or --api-url) to the Veil API, e.g. http://127.0.0.1:8080');
  const apiKey = env.VEIL_API_KEY;
  if (!apiKey) throw new UsageError('set VEIL_API_KEY to an API key (the bootstrap admin key is in <data-dir>/admin-api-key)');
  return { apiUrl, apiKey };
}

/**
 * What a command with a local and a remote mode (`secrets`, `run`, `env`) hands to the code in
 * src/runtime: the mode decided once by adminMode (src/config/mode.ts), which the runtime follows
 * without looking at API URLs or data dirs itself, and the env. In local mode the env has no
 * VEIL_API_URL, so no code further down can fall back to it and go remote after all.
 */
export interface CommandTarget {
  env: Env;
  mode: AdminMode;
}

export function commandTarget(env: Env, flags: ModeFlags): CommandTarget {
  const mode = adminMode(flags, env);
  if (mode.kind === 'remote') return { env, mode };
  const { VEIL_API_URL: _ignored, ...localEnv } = env;
  return { env: localEnv, mode };
}
