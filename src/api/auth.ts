/**
 * Bearer API-key authentication and scope checks, run in `onRequest` (before the body is parsed,
 * so an unauthenticated caller learns nothing about body validation).
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { ApiKeysService } from '../service/orgs.js';
import type { ApiKeyRecord, Scope } from '../store/types.js';
import { SANDBOX_KEY_SCOPES } from '../service/sandboxes.js';

export const ORG_HEADER = 'x-daytona-organization-id';

/** The authenticated key of a request (set by the hook; a WeakMap avoids global type merging). */
const authenticated = new WeakMap<FastifyRequest, ApiKeyRecord>();

export function callerOf(request: FastifyRequest): ApiKeyRecord {
  const key = authenticated.get(request);
  if (!key) throw new UnauthorizedError();
  return key;
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export function requireScope(apiKeys: ApiKeysService, scope: Scope): onRequestHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request);
    if (!token) throw new UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    const key = await apiKeys.verify(token);
    if (!key.scopes.includes(scope)) throw new ForbiddenError(`this API key lacks the scope "${scope}"`);
    // A sandbox-scoped key acts only on its sandbox: routes of other scopes (secrets, orgs, keys)
    // are not about a sandbox at all. Which sandbox it reaches is decided in SandboxesService.
    if (key.sandboxId !== null && !SANDBOX_KEY_SCOPES.includes(scope)) {
      throw new ForbiddenError(`this API key is restricted to sandbox ${key.sandboxId}; it cannot use "${scope}" routes`);
    }
    const orgHeader = request.headers[ORG_HEADER];
    if (typeof orgHeader === 'string' && orgHeader !== '' && orgHeader.toLowerCase() !== key.orgId) {
      throw new ForbiddenError('X-Daytona-Organization-ID does not match the organization of this API key');
    }
    authenticated.set(request, key);
  };
}
