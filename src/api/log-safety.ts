/**
 * What the access log may say about a request. URLs are user-controlled and a careless caller can
 * put anything in them (even a value, e.g. `GET /secret/<value>`), so only route words and UUIDs
 * are logged verbatim; other path segments become `*` and query strings keep their keys only.
 */
import type { FastifyRequest } from 'fastify';
import { isUuid } from '../ids.js';

const ROUTE_WORDS = new Set(['secret', 'paginated', 'sandbox', 'secrets', 'orgs', 'api-keys', 'health']);

export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const safePath = path
    .split('/')
    .map((segment) => (segment === '' || ROUTE_WORDS.has(segment) || isUuid(segment) ? segment : '*'))
    .join('/');
  if (queryAt === -1) return safePath;
  const keys = [...new URLSearchParams(url.slice(queryAt + 1)).keys()].filter((key) => /^[A-Za-z0-9_-]{1,32}$/.test(key));
  return keys.length > 0 ? `${safePath}?${keys.join('&')}` : safePath;
}

export function requestSerializer(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: loggableUrl(request.url), remoteAddress: request.ip };
}
