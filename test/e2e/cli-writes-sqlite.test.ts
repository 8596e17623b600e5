/**
 * The CLI writing directly to the SQLite file of a running `veil serve` (`veil secrets ...
 * --data-dir` on the same data dir) publishes its change events into the shared change_events
 * table, which the server polls (PRAGMA data_version), so the proxy drops its cached mapping at
 * once. The proxy's mapping TTL is 60 s here: only the shared feed can explain a pickup within
 * seconds. Real processes throughout: `veil serve` with its embedded proxy, the `veil` CLI, curl,
 * an HTTPS upstream on 127.0.0.1. (The PostgreSQL counterpart is cli-writes-pg.test.ts.)
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE } from '../../src/app/repository.js';
import { eventually } from '../distributed/support.js';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/proxy-clients.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { createTestCa, deadPort, startUpstream, type TestUpstream } from '../helpers/upstream.js';

const VALUE_A = 'sk-cli-sqlite-VALUE-A-0f1e2d3c4b';
const VALUE_B = 'sk-cli-sqlite-VALUE-B-4b3c2d1e0f';
const HOST = 'api.cliwrite-sqlite.test';
/** Far longer than the test waits for a pickup: a cache expiry cannot explain one. */
const MAPPING_TTL_MS = 60_000;
const PICKUP_WITHIN_MS = 3_000;

describe('CLI writes directly on SQLite reach a running proxy through the shared change table', () => {
  let upstream: TestUpstream;
  let veil: ServeProcess;
  let caFile: string;
  let secretId: string;
  let sandbox: { id: string; organizationId: string; proxyToken: string; env: Record<string, string> };
  const pickups: number[] = [];

  /** The CLI on the server's data dir itself: --data-dir wins over the API URL, which points nowhere anyway. */
  async function cliOnDataDir(args: string[], input?: string) {
    const started = Date.now();
    const result = await runCli([...args, '--data-dir', veil.dataDir], {
      env: { VEIL_API_URL: `http://127.0.0.1:${await deadPort()}`, VEIL_API_KEY: 'not-used' },
      ...(input !== undefined ? { input } : {}),
      timeoutMs: 30_000,
    });
    return { ...result, elapsedMs: Date.now() - started };
  }

  async function authorizationSeen(path: string): Promise<string | undefined> {
    const result = await curl(`https://${HOST}:${upstream.port}${path}`, [
      '-x', veil.proxyUrl!,
      '--proxy-user', `${sandbox.id}:${sandbox.proxyToken}`,
      '--cacert', caFile,
      '--resolve', `${HOST}:${upstream.port}:127.0.0.1`,
      '-H', `Authorization: Bearer ${sandbox.env.TOKEN}`,
    ]);
    expect(result.status).toBe(200);
    const received = upstream.received.at(-1)!;
    expect(received.url).toBe(path);
    return received.headers.authorization;
  }

  function storedEvents(): Array<Record<string, unknown>> {
    const db = new Database(join(veil.dataDir, SQLITE_FILE), { readonly: true });
    try {
      return db.prepare('SELECT * FROM change_events ORDER BY id').all() as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }

  const api = (method: string, path: string, body?: unknown) => adminApi(veil, method, path, body);

  beforeAll(async () => {
    const testCa = createTestCa();
    upstream = await startUpstream(testCa.issue([HOST]));
    veil = await startServeProcess({
      proxy: true,
      env: {
        VEIL_PROXY_CACHE_TTL_MS: String(MAPPING_TTL_MS),
        VEIL_UPSTREAM_CA_FILE: testCa.certFile,
        VEIL_RESOLVE: `${HOST}=127.0.0.1`,
      },
    });
    caFile = String(veil.ready.caCertFile ?? join(veil.dataDir, 'certs', 'ca.pem'));
    const secret = await api('POST', '/secret', { name: 'CLI_ROTATED', value: VALUE_A, hosts: [HOST] });
    expect(secret.status).toBe(201);
    secretId = secret.json.id;
    const box = await api('POST', '/sandbox', { name: 'cli-writes', secrets: [{ TOKEN: 'CLI_ROTATED' }] });
    expect(box.status).toBe(201);
    sandbox = box.json;
  }, 120_000);

  afterAll(async () => {
    await veil?.stop();
    await upstream?.close();
    if (pickups.length) console.log(`SQLite change feed pickups (CLI exit to first proxied request with the change): ${pickups.join(', ')} ms`);
  });

  it('a value rotated by the CLI is used by the proxy within seconds, despite a 60 s mapping TTL', async () => {
    // The proxy has cached the mapping with value A.
    expect(await authorizationSeen('/before')).toBe(`Bearer ${VALUE_A}`);
    expect(await authorizationSeen('/cached')).toBe(`Bearer ${VALUE_A}`);

    const rotated = await cliOnDataDir(['secrets', 'update', 'CLI_ROTATED', '--value-file', '-'], `${VALUE_B}\n`);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    // The CLI closed its database connections and exited on its own.
    expect(rotated.signal).toBeNull();
    expect(rotated.elapsedMs).toBeLessThan(15_000);

    const started = Date.now();
    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-rotation-${attempt++}`)) === `Bearer ${VALUE_B}`, 'the proxy to use the rotated value', PICKUP_WITHIN_MS);
    pickups.push(Date.now() - started);

    // The CLI's row was written before it exited, and holds ids only.
    const rotation = { kind: 'secret', orgId: sandbox.organizationId, secretId };
    const rows = storedEvents();
    expect(rows.map((row) => JSON.parse(row.event as string))).toContainEqual(rotation);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(VALUE_A);
    expect(dump).not.toContain(VALUE_B);
    expect(dump).not.toContain('CLI_ROTATED');
  });

  it('a secret deleted by the CLI is no longer substituted, within seconds', async () => {
    expect(await authorizationSeen('/before-delete')).toBe(`Bearer ${VALUE_B}`);
    const deleted = await cliOnDataDir(['secrets', 'delete', 'CLI_ROTATED']);
    expect(deleted.code).toBe(0);
    expect(deleted.signal).toBeNull();

    const started = Date.now();
    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-delete-${attempt++}`)) === `Bearer ${sandbox.env.TOKEN}`, 'the placeholder to pass unsubstituted', PICKUP_WITHIN_MS);
    pickups.push(Date.now() - started);
    expect(upstream.received.at(-1)!.headers.authorization).not.toContain(VALUE_B);
  });

  it('never wrote a value to the server logs', () => {
    const output = veil.stdoutLines.join('\n') + veil.stderr();
    expect(output).not.toContain(VALUE_A);
    expect(output).not.toContain(VALUE_B);
  });
});
