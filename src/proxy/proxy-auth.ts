import { constantTimeEqual, sha256Hex } from '../crypto/tokens.js';

export interface ProxyCredentials {
  sandboxId: string;
  token: string;
}

/** Reads `Proxy-Authorization: Basic base64(sandboxId:token)`; null when absent or malformed. */
export function parseProxyAuthorization(header: string | string[] | undefined): ProxyCredentials | null {
  if (typeof header !== 'string') return null;
  const match = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { sandboxId: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

/** sha256(token) compared with the stored hex hash in constant time, as API keys are. */
export function tokenMatchesHash(token: string, expectedSha256Hex: string): boolean {
  return constantTimeEqual(sha256Hex(token), expectedSha256Hex.toLowerCase());
}

export const PROXY_AUTHENTICATE = 'Basic realm="veil"';
