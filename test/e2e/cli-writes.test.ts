/**
 * The CLI writing directly to the store (`veil secrets ... --data-dir`, not through the API)
 * publishes the same change events as a `veil serve` does, so a running proxy drops its cached
 * mapping at once: over NOTIFY on PostgreSQL, through the shared change_events table (polled via
 * PRAGMA data_version) on SQLite. The proxy's mapping TTL is 60 s here: only the shared feed can
 * explain a pickup within seconds. Real processes throughout: `veil serve` with its embedded
 * proxy, the `veil` CLI, curl, an HTTPS upstream on 127.0.0.1.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTarget, SQLITE_FILE } from '../../src/app/repository.js';
import { replicaEnv } from '../distributed/support.js';
import { eventually } from '../helpers/eventually.js';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/proxy-clients.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { createTestCa, deadPort, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { dropSchema, randomSchemaName, TEST_DATABASE_URL } from '../store/pg-test-db.js';

const VALUE_A = 'sk-cli-write-VALUE-A-5e4d3c2b1a';
const VALUE_B = 'sk-cli-write-VALUE-B-a1b2c3d4e5';
const HOST = 'api.cliwrite.test';
/** Far longer than the test waits for a pickup: a cache expiry cannot explain one. */
const MAPPING_TTL_MS = 60_000;

/** What differs between the two stores: where the CLI writes, and where the shared events can be read. */
interface StoreUnderTest {
  name: string;
  pickupWithinMs: number;
  /** Env for both `veil serve` and the CLI. */
  env: Record<string, string>;
  /** The CLI's --data-dir (it wins over the API URL, which points nowhere anyway). */
  cliDataDir(veil: ServeProcess): string;
  /** Starts recording what passes between processes (after the setup writes). */
  watch(veil: ServeProcess): Promise<void>;
  /** The events that passed so far, and their raw text (to scan for values). */
  shared(): Promise<{ events: unknown[]; raw: string }>;
  close(): Promise<void>;
}

function postgresStore(): StoreUnderTest {
  const schema = randomSchemaName('veil_e2e_cliw');
  const env: Record<string, string> = { ...replicaEnv(schema) };
  const cliDataDir = makeTempDir('veil-cli-pg-');
  const notifications: string[] = [];
  let listener: pg.Client | undefined;
  return {
    name: 'PostgreSQL (NOTIFY)',
    pickupWithinMs: 4_000,
    env,
    cliDataDir: () => cliDataDir.path,
    async watch() {
      // The servers' channel, derived from the URL and schema like the servers do.
      listener = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await listener.connect();
      listener.on('notification', (message) => notifications.push(message.payload ?? ''));
      await listener.query(`LISTEN "${postgresTarget(env.VEIL_DATABASE_URL!).channel}"`);
    },
    async shared() {
      // A NOTIFY arrives asynchronously; the server's own NOTIFYs of the setup writes may be here too.
      await eventually(async () => notifications.some((payload) => JSON.parse(payload).event.kind === 'secret'), 'a NOTIFY of a secret change', 2_000);
      return { events: notifications.map((payload) => JSON.parse(payload).event), raw: notifications.join('\n') };
    },
    async close() {
      await listener?.end().catch(() => undefined);
      cliDataDir.remove();
      await dropSchema(schema);
    },
  };
}

function sqliteStore(): StoreUnderTest {
  let file = '';
  return {
    name: 'SQLite (shared change table)',
    pickupWithinMs: 3_000,
    env: {},
    cliDataDir: (veil) => veil.dataDir,
    async watch(veil) {
      file = join(veil.dataDir, SQLITE_FILE);
    },
    async shared() {
      // The CLI's rows were written before it exited.
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM change_events ORDER BY id').all() as Array<{ event: string }>;
        return { events: rows.map((row) => JSON.parse(row.event)), raw: JSON.stringify(rows) };
      } finally {
        db.close();
      }
    },
    async close() {},
  };
}

describe.each([postgresStore, sqliteStore])('CLI writes directly on the store reach a running proxy', (makeStore) => {
  const store = makeStore();
  const pickups: number[] = [];
  let upstream: TestUpstream;
  let veil: ServeProcess;
  let caFile: string;
  let secretId: string;
  let sandbox: { id: string; organizationId: string; proxyToken: string; env: Record<string, string> };

  async function cliOnStore(args: string[], input?: string) {
    const started = Date.now();
    const result = await runCli([...args, '--data-dir', store.cliDataDir(veil)], {
      env: { ...store.env, VEIL_API_URL: `http://127.0.0.1:${await deadPort()}`, VEIL_API_KEY: 'not-used' },
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
        ...store.env,
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
    await store.watch(veil);
  }, 120_000);

  afterAll(async () => {
    await veil?.stop();
    await upstream?.close();
    await store.close();
    if (pickups.length) console.log(`${store.name}: CLI exit to the first proxied request with the change: ${pickups.join(', ')} ms`);
  });

  it(`${store.name}: a value rotated by the CLI is used by the proxy within seconds, despite a 60 s mapping TTL`, async () => {
    // The proxy has cached the mapping with value A.
    expect(await authorizationSeen('/before')).toBe(`Bearer ${VALUE_A}`);
    expect(await authorizationSeen('/cached')).toBe(`Bearer ${VALUE_A}`);

    const rotated = await cliOnStore(['secrets', 'update', 'CLI_ROTATED', '--value-file', '-'], `${VALUE_B}\n`);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    // The CLI closed its database connections and exited on its own.
    expect(rotated.signal).toBeNull();
    expect(rotated.elapsedMs).toBeLessThan(15_000);

    const started = Date.now();
    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-rotation-${attempt++}`)) === `Bearer ${VALUE_B}`, 'the proxy to use the rotated value', store.pickupWithinMs);
    pickups.push(Date.now() - started);

    // What passed between the processes carried ids only.
    const shared = await store.shared();
    expect(shared.events).toContainEqual({ kind: 'secret', orgId: sandbox.organizationId, secretId });
    expect(shared.raw).not.toContain(VALUE_A);
    expect(shared.raw).not.toContain(VALUE_B);
    expect(shared.raw).not.toContain('CLI_ROTATED');
  });

  it(`${store.name}: a secret deleted by the CLI is no longer substituted, within seconds`, async () => {
    expect(await authorizationSeen('/before-delete')).toBe(`Bearer ${VALUE_B}`);
    const deleted = await cliOnStore(['secrets', 'delete', 'CLI_ROTATED']);
    expect(deleted.code).toBe(0);
    expect(deleted.signal).toBeNull();

    const started = Date.now();
    let attempt = 0;
    await eventually(async () => (await authorizationSeen(`/after-delete-${attempt++}`)) === `Bearer ${sandbox.env.TOKEN}`, 'the placeholder to pass unsubstituted', store.pickupWithinMs);
    pickups.push(Date.now() - started);
    expect(upstream.received.at(-1)!.headers.authorization).not.toContain(VALUE_B);
  });

  it(`${store.name}: never wrote a value to the server logs`, () => {
    const output = veil.stdoutLines.join('\n') + veil.stderr();
    expect(output).not.toContain(VALUE_A);
    expect(output).not.toContain(VALUE_B);
  });
});
