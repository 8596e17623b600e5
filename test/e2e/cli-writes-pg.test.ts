/**
 * The CLI writing directly to PostgreSQL (`veil secrets ... --data-dir`, not through the API)
 * publishes the same change events over NOTIFY as a `veil serve` replica does, so a running
 * proxy drops its cached mapping at once. The proxy's mapping TTL is 60 s here: only the
 * notification can explain a pickup within seconds. Real processes throughout: `veil serve` with
 * its embedded proxy, the `veil` CLI, curl, an HTTPS upstream on 127.0.0.1.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTarget } from '../../src/app/repository.js';
import { eventually, replicaEnv } from '../distributed/support.js';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/proxy-clients.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { createTestCa, deadPort, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { dropSchema, randomSchemaName, TEST_DATABASE_URL } from '../store/pg-test-db.js';

const VALUE_A = 'sk-cli-pg-VALUE-A-5e4d3c2b1a';
const VALUE_B = 'sk-cli-pg-VALUE-B-a1b2c3d4e5';
const HOST = 'api.cliwrite.test';
/** Far longer than the test waits for a pickup: a cache expiry cannot explain one. */
const MAPPING_TTL_MS = 60_000;
const PICKUP_WITHIN_MS = 4_000;

describe('CLI writes directly on PostgreSQL reach a running proxy through NOTIFY', () => {
  const schema = randomSchemaName('veil_e2e_cliw');
  const env = replicaEnv(schema);
  const cliDataDir = makeTempDir('veil-cli-pg-');
  let upstream: TestUpstream;
  let veil: ServeProcess;
  let caFile: string;
  let secretId: string;
  let sandbox: { id: string; organizationId: string; proxyToken: string; env: Record<string, string> };
  let listener: pg.Client;
  const notifications: string[] = [];

  /** The CLI on the database itself: --data-dir wins over the API URL, which points nowhere anyway. */
  async function cliOnDatabase(args: string[], input?: string) {
    const started = Date.now();
    const result = await runCli([...args, '--data-dir', cliDataDir.path], {
      env: { ...env, VEIL_API_URL: `http://127.0.0.1:${await deadPort()}`, VEIL_API_KEY: 'not-used' },
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

  const api = (method: string, path: string, body?: unknown) => adminApi(veil, method, path, body);

  beforeAll(async () => {
    const testCa = createTestCa();
    upstream = await startUpstream(testCa.issue([HOST]));
    veil = await startServeProcess({
      proxy: true,
      env: {
        ...env,
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
    // What travels on the servers' channel (derived from the URL and schema like the servers do).
    listener = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await listener.connect();
    listener.on('notification', (message) => notifications.push(message.payload ?? ''));
    await listener.query(`LISTEN "${postgresTarget(env.VEIL_DATABASE_URL).channel}"`);
  }, 120_000);

  afterAll(async () => {
    await listener?.end().catch(() => undefined);
    await veil?.stop();
    await upstream?.close();
    cliDataDir.remove();
    await dropSchema(schema);
  });

  it('a value rotated by the CLI is used by the proxy within seconds, despite a 60 s mapping TTL', async () => {
    // The proxy has cached the mapping with value A.
    expect(await authorizationSeen('/before')).toBe(`Bearer ${VALUE_A}`);
    expect(await authorizationSeen('/cached')).toBe(`Bearer ${VALUE_A}`);

    const rotated = await cliOnDatabase(['secrets', 'update', 'CLI_ROTATED', '--value-file', '-'], `${VALUE_B}\n`);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    // The CLI closed its PostgreSQL connections and exited on its own.
    expect(rotated.signal).toBeNull();
    expect(rotated.elapsedMs).toBeLessThan(15_000);

    const started = Date.now();
    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-rotation-${attempt++}`)) === `Bearer ${VALUE_B}`, 'the proxy to use the rotated value', PICKUP_WITHIN_MS);
    expect(Date.now() - started).toBeLessThan(MAPPING_TTL_MS);

    // The notification carried ids only. (The server's own NOTIFYs of the setup writes may be here too.)
    const rotation = { kind: 'secret', orgId: sandbox.organizationId, secretId };
    const events = () => notifications.map((payload) => JSON.parse(payload).event);
    await eventually(async () => events().some((event) => event.kind === 'secret'), 'the NOTIFY of the rotation', 2_000);
    expect(events()).toContainEqual(rotation);
    for (const payload of notifications) {
      expect(payload).not.toContain(VALUE_A);
      expect(payload).not.toContain(VALUE_B);
      expect(payload).not.toContain('CLI_ROTATED');
    }
  });

  it('a secret deleted by the CLI is no longer substituted, within seconds', async () => {
    expect(await authorizationSeen('/before-delete')).toBe(`Bearer ${VALUE_B}`);
    const deleted = await cliOnDatabase(['secrets', 'delete', 'CLI_ROTATED']);
    expect(deleted.code).toBe(0);
    expect(deleted.signal).toBeNull();

    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-delete-${attempt++}`)) === `Bearer ${sandbox.env.TOKEN}`, 'the placeholder to pass unsubstituted', PICKUP_WITHIN_MS);
    expect(upstream.received.at(-1)!.headers.authorization).not.toContain(VALUE_B);
  });

  it('never wrote a value to the server logs', () => {
    const output = veil.stdoutLines.join('\n') + veil.stderr();
    expect(output).not.toContain(VALUE_A);
    expect(output).not.toContain(VALUE_B);
  });
});
