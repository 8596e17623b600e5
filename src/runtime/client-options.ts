import type { ClientOptions } from '../client/index.js';
import { apiUrlSetting, UsageError, type Env } from '../config/index.js';

/** Client options for commands that always talk to a control plane. */
export function clientOptionsFrom(env: Env, apiUrlFlag: string | undefined): ClientOptions {
  const apiUrl = apiUrlSetting({ 'api-url': apiUrlFlag }, env);
  if (!apiUrl) throw new UsageError('set VEIL_API_URL (or --api-url) to the Veil API, e.g. http://127.0.0.1:8080');
  const apiKey = env.VEIL_API_KEY;
  if (!apiKey) throw new UsageError('set VEIL_API_KEY to an API key (the bootstrap admin key is in <data-dir>/admin-api-key)');
  return { apiUrl, apiKey };
}
