import { createHash, timingSafeEqual } from 'node:crypto';

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

/** sha256(token) compared with the stored hex hash in constant time (both sides fixed length). */
export function tokenMatchesHash(token: string, expectedSha256Hex: string): boolean {
  const actual = createHash('sha256').update(token, 'utf8').digest();
  const expected = Buffer.from(expectedSha256Hex, 'hex');
  if (expected.length !== actual.length) {
    // Still spend the comparison so a malformed stored hash looks like a wrong token.
    timingSafeEqual(actual, actual);
    return false;
  }
  return timingSafeEqual(actual, expected);
}

export const PROXY_AUTHENTICATE = 'Basic realm="veil"';
