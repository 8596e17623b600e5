import type { ClientOptions } from '../client/index.js';
import { parseHttpUrl, UsageError, type Env } from '../config/index.js';

/** `--api-url` flag for client commands (the key only comes from VEIL_API_KEY: keep it off argv). */
export const REMOTE_FLAGS = {
  'api-url': { type: 'string' },
} as const;

/** The API URL from `--api-url` or VEIL_API_URL, or undefined when neither is set. */
export function apiUrlFrom(env: Env, flag: string | undefined): string | undefined {
  if (flag !== undefined) return parseHttpUrl('--api-url', flag);
  const fromEnv = env.VEIL_API_URL;
  return fromEnv ? parseHttpUrl('VEIL_API_URL', fromEnv) : undefined;
}

/** Client options for commands that always talk to a control plane. */
export function clientOptionsFrom(env: Env, apiUrlFlag: string | undefined): ClientOptions {
  const apiUrl = apiUrlFrom(env, apiUrlFlag);
  if (!apiUrl) throw new UsageError('set VEIL_API_URL (or --api-url) to the Veil API, e.g. http://127.0.0.1:8080');
  const apiKey = env.VEIL_API_KEY;
  if (!apiKey) throw new UsageError('set VEIL_API_KEY to an API key (the bootstrap admin key is in <data-dir>/admin-api-key)');
  return { apiUrl, apiKey };
}
