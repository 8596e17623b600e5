import { adminMode, type AdminMode, type Env, type ModeFlags } from '../config/index.js';

/** `--api-url` flag for client commands (the key only comes from VEIL_API_KEY: keep it off argv). */
export const REMOTE_FLAGS = {
  'api-url': { type: 'string' },
} as const;

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
