import type { IncomingHttpHeaders } from 'node:http';
import type { Engine } from './engine.js';
import { ResolverUnavailableError, type SandboxMapping } from './mapping-cache.js';
import { parseProxyAuthorization, tokenMatchesHash } from './proxy-auth.js';

export type Identity =
  | { ok: true; sandboxId: string; mapping: SandboxMapping }
  | { ok: false; status: 407 }
  | { ok: false; status: 503; message: string };

const UNAVAILABLE = 'secret lookup is unavailable; nothing was forwarded';

/**
 * Per client connection: the Proxy-Authorization header last verified on it and the mapping it was
 * verified against. A later request on the same connection with the very same header skips the
 * sha256 only while the cache still hands out that same mapping object (a refresh or change event
 * makes a new one, and the token is checked again against its hash).
 */
const verifiedOn = new WeakMap<object, { header: string; mapping: SandboxMapping }>();

/**
 * Who is asking. Shared mode: Basic credentials checked against the sandbox's token hash; missing
 * credentials, unknown sandbox and wrong token all give the same 407 (no enumeration).
 * Sidecar mode: the configured sandbox, no credentials.
 */
export async function identify(engine: Engine, headers: IncomingHttpHeaders, connection?: object): Promise<Identity> {
  if (engine.sidecarSandboxId !== undefined) return lookupKnown(engine, engine.sidecarSandboxId, null);
  const header = headers['proxy-authorization'];
  const credentials = parseProxyAuthorization(header);
  if (!credentials) {
    // Normal first step for challenge-response clients: not worth more than debug.
    engine.logger.debug('proxy request without credentials');
    return { ok: false, status: 407 };
  }
  const seen = connection !== undefined ? verifiedOn.get(connection) : undefined;
  const verified = seen !== undefined && seen.header === header ? seen.mapping : null;
  const identity = await lookupKnown(engine, credentials.sandboxId, credentials.token, verified);
  if (identity.ok && connection !== undefined && typeof header === 'string') verifiedOn.set(connection, { header, mapping: identity.mapping });
  // The claimed id only: the token never reaches a log line.
  if (!identity.ok && identity.status === 407) engine.logger.info({ claimedSandboxId: credentials.sandboxId.slice(0, 100) }, 'proxy authentication failed');
  return identity;
}

/**
 * The mapping of an already authenticated sandbox (requests inside a CONNECT tunnel), or of a sandbox
 * whose token is checked here. `verified`: a mapping this very token was already checked against.
 */
export function lookupKnown(engine: Engine, sandboxId: string, token: string | null, verified: SandboxMapping | null = null): Promise<Identity> {
  return engine.cache.get(sandboxId).then(
    (mapping): Identity => {
      if (mapping === null) {
        if (engine.sidecarSandboxId !== undefined) {
          return { ok: false, status: 503, message: `sandbox ${sandboxId} is not known to the control plane` };
        }
        return { ok: false, status: 407 };
      }
      if (token !== null && mapping !== verified && !tokenMatchesHash(token, mapping.secrets.proxyTokenHash)) return { ok: false, status: 407 };
      return { ok: true, sandboxId, mapping };
    },
    (error: unknown): Identity => {
      engine.logger.warn(
        { sandboxId, reason: error instanceof ResolverUnavailableError ? 'resolver failing, nothing usable cached' : 'lookup error' },
        'secret lookup unavailable: failing closed',
      );
      return { ok: false, status: 503, message: UNAVAILABLE };
    },
  );
}
