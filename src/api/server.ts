/**
 * The control-plane HTTP API (Daytona-compatible routes plus Veil's admin routes).
 *
 *   GET    /health                      no auth            {status:"ok"}
 *   POST   /secret                      secrets:write      201 Secret (never a value)
 *   GET    /secret                      secrets:read       Secret[]
 *   GET    /secret/paginated            secrets:read       {items,total,nextCursor} ?cursor&limit(1..200)&name&sort&order
 *   GET    /secret/:id                  secrets:read       Secret
 *   PATCH  /secret/:id                  secrets:write      Secret (partial; value rotation keeps the placeholder)
 *   DELETE /secret/:id                  secrets:write      204
 *   POST   /sandbox                     sandboxes:write    201 Sandbox + proxyToken (shown once)
 *   GET    /sandbox                     sandboxes:write    Sandbox[]
 *   GET    /sandbox/:idOrName           sandboxes:write    Sandbox
 *   DELETE /sandbox/:idOrName           sandboxes:write    204
 *   PUT    /sandbox/:idOrName/secrets   sandboxes:write    Sandbox (replaces the mounts)
 *   GET    /sandbox/:id/secrets         proxy:resolve      [{env,name,placeholder,value,hosts,locations}] + X-Veil-Proxy-Token-Sha256, X-Veil-Org-Id
 *   GET    /events                      proxy:resolve      server-sent change events, ids only (see events.ts)
 *   POST   /orgs, GET /orgs             admin              (creating orgs: admin keys of the "default" org only)
 *   POST   /api-keys                    admin              201 {id,orgId,name,scopes,sandboxId,createdAt,key}
 *   GET    /api-keys?org, DELETE /api-keys/:id  admin      instance admin: every org (or ?org); others: their own org
 *
 * Errors are {statusCode,error,message}; another org's ids are 404, never 403. A sandbox-scoped
 * key (sandboxId set) reaches only sandbox routes (auth.ts), and on them only its own sandbox
 * (SandboxesService.find/list): every other sandbox answers 404, as for another org.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { ChangeFeed } from '../events/types.js';
import { isUuid } from '../ids.js';
import type { Logger } from '../log/logger.js';
import { LocalResolver } from '../resolver/local.js';
import type { SecretResolver } from '../resolver/types.js';
import { actorSees, createServices, type Services } from '../service/index.js';
import type { Repository, Scope } from '../store/types.js';
import { callerOf, requireScope } from './auth.js';
import { installErrorHandlers } from './errors.js';
import { registerEventRoutes } from './events.js';
import { requestSerializer } from './log-safety.js';
import { sandboxProxyEnv } from '../sandbox-env/template.js';
import { ORG_ID_HEADER, PROXY_TOKEN_HASH_HEADER } from '../resolver/types.js';

export const BODY_LIMIT = 256 * 1024;
export { ORG_ID_HEADER, PROXY_TOKEN_HASH_HEADER };

export interface ApiDeps {
  repository: Repository;
  feed: ChangeFeed;
  logger: Logger;
  masterKey: Buffer;
  /** Built from repository + masterKey + feed when omitted. */
  services?: Services;
  /** LocalResolver(repository, masterKey) when omitted. */
  resolver?: SecretResolver;
  /** Where sandboxes reach the proxy and the CA they must trust, when known: added to `POST /sandbox` replies. */
  sandboxAccess?: () => SandboxAccess | undefined;
  /** Interval of the `GET /events` heartbeat (and key re-check); default HEARTBEAT_MS (15 s). */
  eventsHeartbeatMs?: number;
}

export interface SandboxAccess {
  /** The proxy as sandboxes reach it, without credentials. */
  proxyUrl: string;
  caCertPem: string;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
type Params = Record<string, string>;

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const services = deps.services ?? createServices({ repo: deps.repository, masterKey: deps.masterKey, feed: deps.feed });
  const resolver = deps.resolver ?? new LocalResolver(deps.repository, deps.masterKey);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT,
    // Request ids are generated here, never taken from a client header (no log injection).
    requestIdHeader: false,
    // Request logs carry a sanitized URL only (see log-safety.ts); never headers or bodies.
    childLoggerFactory: (logger, bindings, options) =>
      logger.child(bindings, { ...options, serializers: { ...options.serializers, req: requestSerializer as never } }),
  }) as unknown as FastifyInstance;
  installErrorHandlers(app);

  // Nothing this API returns should be cached by intermediaries.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });

  const route = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, scope: Scope, handler: Handler, quiet = false) =>
    app.route({ method, url, onRequest: requireScope(services.apiKeys, scope), handler, ...(quiet ? { logLevel: 'warn' } : {}) });

  app.get('/health', async () => ({ status: 'ok' }));

  // --- secrets (Daytona SecretApi) -------------------------------------------------------
  route('POST', '/secret', 'secrets:write', async (request, reply) => {
    const created = await services.secrets.create(callerOf(request).orgId, request.body);
    return reply.code(201).send(created);
  });
  route('GET', '/secret', 'secrets:read', async (request) => services.secrets.list(callerOf(request).orgId));
  route('GET', '/secret/paginated', 'secrets:read', async (request) =>
    services.secrets.page(callerOf(request).orgId, request.query as Record<string, unknown>),
  );
  route('GET', '/secret/:id', 'secrets:read', async (request) => services.secrets.get(callerOf(request).orgId, (request.params as Params).id!));
  route('PATCH', '/secret/:id', 'secrets:write', async (request) =>
    services.secrets.update(callerOf(request).orgId, (request.params as Params).id!, request.body),
  );
  route('DELETE', '/secret/:id', 'secrets:write', async (request, reply) => {
    await services.secrets.delete(callerOf(request).orgId, (request.params as Params).id!);
    return reply.code(204).send();
  });

  // --- sandboxes (Daytona SandboxApi subset) ---------------------------------------------
  route('POST', '/sandbox', 'sandboxes:write', async (request, reply) => {
    const created = await services.sandboxes.create(callerOf(request), request.body);
    const access = deps.sandboxAccess?.();
    if (!access) return reply.code(201).send(created);
    // Shown once, like the token it embeds: how this sandbox uses the proxy.
    return reply.code(201).send({
      ...created,
      proxyUrl: access.proxyUrl,
      caCertPem: access.caCertPem,
      proxyEnv: sandboxProxyEnv(access.proxyUrl, created.id, created.proxyToken),
    });
  });
  route('GET', '/sandbox', 'sandboxes:write', async (request) => services.sandboxes.list(callerOf(request)));
  route('GET', '/sandbox/:idOrName', 'sandboxes:write', async (request) =>
    services.sandboxes.get(callerOf(request), (request.params as Params).idOrName!),
  );
  route('DELETE', '/sandbox/:idOrName', 'sandboxes:write', async (request, reply) => {
    await services.sandboxes.delete(callerOf(request), (request.params as Params).idOrName!);
    return reply.code(204).send();
  });
  route('PUT', '/sandbox/:idOrName/secrets', 'sandboxes:write', async (request) =>
    services.sandboxes.replaceSecrets(callerOf(request), (request.params as Params).idOrName!, request.body),
  );

  // The one reply that carries values: for proxies (scope proxy:resolve). Logged at warn only.
  route(
    'GET',
    '/sandbox/:id/secrets',
    'proxy:resolve',
    async (request, reply) => {
      const caller = callerOf(request);
      const id = (request.params as Params).id!.toLowerCase();
      const notFound = new NotFoundError(isUuid(id) ? `sandbox ${id} not found` : 'sandbox not found');
      if (!isUuid(id)) throw notFound;
      const resolved = await resolver.resolve(id);
      if (!resolved || !actorSees(caller, { id, orgId: resolved.orgId })) throw notFound;
      reply.header(PROXY_TOKEN_HASH_HEADER, resolved.proxyTokenHash);
      reply.header(ORG_ID_HEADER, resolved.orgId);
      return resolved.secrets.map((secret) => ({
        env: secret.env,
        name: secret.name,
        placeholder: secret.placeholder,
        value: secret.value,
        hosts: secret.hosts,
        locations: secret.locations,
      }));
    },
    true,
  );

  registerEventRoutes(app, {
    apiKeys: services.apiKeys,
    feed: deps.feed,
    ...(deps.eventsHeartbeatMs !== undefined ? { heartbeatMs: deps.eventsHeartbeatMs } : {}),
  });

  // --- admin: orgs and keys ---------------------------------------------------------------
  route('POST', '/orgs', 'admin', async (request, reply) => {
    if (!(await services.orgs.isInstanceAdmin(callerOf(request)))) {
      throw new ForbiddenError('creating organizations needs an admin key of the "default" organization');
    }
    return reply.code(201).send(await services.orgs.create(request.body));
  });
  route('GET', '/orgs', 'admin', async (request) => {
    const caller = callerOf(request);
    if (await services.orgs.isInstanceAdmin(caller)) return services.orgs.list();
    const own = await services.orgs.get(caller.orgId);
    return own ? [own] : [];
  });
  route('POST', '/api-keys', 'admin', async (request, reply) => {
    const caller = callerOf(request);
    const restrict = (await services.orgs.isInstanceAdmin(caller)) ? undefined : caller.orgId;
    return reply.code(201).send(await services.apiKeys.create(request.body, restrict));
  });
  route('GET', '/api-keys', 'admin', async (request) => {
    const caller = callerOf(request);
    const restrictToOrgId = (await services.orgs.isInstanceAdmin(caller)) ? undefined : caller.orgId;
    return services.apiKeys.list({ org: (request.query as Record<string, unknown>).org, restrictToOrgId });
  });
  route('DELETE', '/api-keys/:id', 'admin', async (request, reply) => {
    const caller = callerOf(request);
    const restrictToOrgId = (await services.orgs.isInstanceAdmin(caller)) ? undefined : caller.orgId;
    await services.apiKeys.revoke((request.params as Params).id!, restrictToOrgId);
    return reply.code(204).send();
  });

  // Not ready()-ed: the caller may still register routes (e.g. an event stream) before listen().
  return app;
}
