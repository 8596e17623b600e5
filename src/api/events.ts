/**
 * `GET /events`: the change feed as server-sent events, for stand-alone proxies (`veil proxy`).
 *
 * Authenticated like `GET /sandbox/{id}/secrets` (scope proxy:resolve). The stream carries ids only,
 * never a value or a name:
 *
 *   event: hello    data: {"orgId":"...","sandboxId":"..."|null,"heartbeatMs":15000}   (first, once)
 *   event: change   data: {"kind":"secret","orgId":"...","secretId":"..."}
 *                   data: {"kind":"sandbox","orgId":"...","sandboxId":"..."}
 *                   data: {"kind":"reset"}     (this replica may have missed events: drop caches)
 *   ": heartbeat"   comment line every HEARTBEAT_MS
 *
 * Filtering: only the key's org; a sandbox-scoped key (sandboxId set) gets its own sandbox's
 * sandbox events plus its org's secret events. The key is checked again at every heartbeat, so a
 * deleted key's stream ends within one interval. A client that does not read is cut off (it
 * reconnects and resets) instead of being buffered without bound. On shutdown (`preClose`) every
 * stream is ended so the server can drain.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { toChangeEvent } from '../events/shape.js';
import { EVENTS_PATH } from '../events/sse-client.js';
import type { ChangeEvent, ChangeFeed } from '../events/types.js';
import type { ApiKeysService } from '../service/orgs.js';
import type { ApiKeyRecord } from '../store/types.js';
import { callerOf, requireScope } from './auth.js';

/** Defined once, next to the client that follows the stream. */
export { EVENTS_PATH };
export const HEARTBEAT_MS = 15_000;
/** Unsent bytes allowed to pile up for one stream before it is cut (events are ~120 bytes). */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface EventRouteDeps {
  apiKeys: ApiKeysService;
  feed: ChangeFeed;
  /** Default HEARTBEAT_MS. */
  heartbeatMs?: number;
}

/** Whether `event` concerns what `key` may resolve. */
export function eventVisibleTo(key: Pick<ApiKeyRecord, 'orgId' | 'sandboxId'>, event: ChangeEvent): boolean {
  switch (event.kind) {
    case 'reset':
      return true;
    case 'secret':
      return event.orgId === key.orgId;
    case 'sandbox':
      return event.orgId === key.orgId && (key.sandboxId === null || key.sandboxId === event.sandboxId);
    default:
      return false;
  }
}

export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
  const open = new Set<ServerResponse>();

  // Long-lived streams would keep close() waiting forever: end them first; clients reconnect elsewhere.
  app.addHook('preClose', async () => {
    for (const response of open) response.end();
  });

  app.route({
    method: 'GET',
    url: EVENTS_PATH,
    onRequest: requireScope(deps.apiKeys, 'proxy:resolve'),
    logLevel: 'warn',
    handler: async (request, reply) => {
      const key = callerOf(request);
      const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
      reply.hijack();
      const response = reply.raw;
      const socket = request.raw.socket;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, heartbeatMs);
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // Reverse proxies (nginx) must not buffer the stream.
        'x-accel-buffering': 'no',
      });
      open.add(response);

      const send = (text: string): void => {
        if (response.writableEnded || response.destroyed) return;
        response.write(text);
        if (response.writableLength > MAX_BUFFERED_BYTES) {
          request.log.warn({ keyId: key.id }, 'event stream client is not reading: closing its stream');
          response.destroy();
        }
      };

      // Subscribed before hello is written: once a client has seen hello, it misses nothing after.
      const unsubscribe = deps.feed.subscribe((event) => {
        if (eventVisibleTo(key, event)) {
          // Rebuilt from the known fields only: nothing else a publisher attached can reach a client.
          send(`event: change\ndata: ${JSON.stringify(toChangeEvent(event) ?? { kind: 'reset' })}\n\n`);
        }
      });
      send(`event: hello\ndata: ${JSON.stringify({ orgId: key.orgId, sandboxId: key.sandboxId, heartbeatMs })}\n\n`);

      let checking = false;
      const heartbeat = setInterval(() => {
        send(': heartbeat\n\n');
        if (checking) return;
        checking = true;
        // A deleted (revoked) key must not keep receiving events.
        deps.apiKeys.authenticate(token).then(
          (current) => {
            checking = false;
            if (!current || !current.scopes.includes('proxy:resolve')) response.end();
          },
          () => {
            checking = false;
          },
        );
      }, heartbeatMs);
      heartbeat.unref();

      const cleanup = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(response);
      };
      response.on('close', cleanup);
      response.on('error', cleanup);
    },
  });
}
