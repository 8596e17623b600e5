/** Error replies: fastify schema-validation errors are rewritten to name the field. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { LocalChangeFeed } from '../../src/events/local-feed.js';
import { createLogger } from '../../src/log/logger.js';
import { openSqliteRepository } from '../../src/store/sqlite.js';
import type { Repository } from '../../src/store/types.js';

let app: FastifyInstance;
let repository: Repository;
let url: string;

beforeAll(async () => {
  repository = await openSqliteRepository(':memory:');
  app = await buildApi({ repository, feed: new LocalChangeFeed(), logger: createLogger({ level: 'silent' }), masterKey: randomBytes(32) });
  // buildApi leaves the app open for more routes; one with a JSON schema exercises the rewrite.
  app.post(
    '/schema-probe',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_-]*$' }, count: { type: 'integer' } },
        },
      },
    },
    async () => ({ ok: true }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  await repository?.close();
});

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${url}/schema-probe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

describe('validation error rewriting', () => {
  it('names the field and the pattern, without the submitted data', async () => {
    const reply = await post({ name: '9-sk-SUBMITTED-data' });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ statusCode: 400, error: 'Bad Request', message: 'name must match ^[a-zA-Z_][a-zA-Z0-9_-]*$' });
  });

  it('names a missing property and a wrong type', async () => {
    expect((await post({})).json.message).toBe('name is required');
    expect((await post({ name: 'ok', count: 'many' })).json.message).toBe('count must be integer');
    expect((await post({ name: 'ok' })).status).toBe(200);
  });
});
