/**
 * Stand-alone `veil proxy` processes against two `veil serve --no-proxy` replicas on one PostgreSQL
 * schema, curl through them to an HTTPS upstream on 127.0.0.1:
 * resolving over HTTP, sidecar mode, sandbox-scoped keys, invalidation pushed across replicas and
 * proxies (cache TTL of 10 minutes, so only the push can explain a fresh value), a replica restart,
 * a control plane that goes away (stale copy, then 503) and a proxy restart.
 */
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/proxy-clients.js';
import type { ServeProcess } from '../helpers/serve-process.js';
import { createTestCa, startUpstream, type TestCa, type TestUpstream } from '../helpers/upstream.js';
import { dropSchema, randomSchemaName } from '../store/pg-test-db.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_KEY, call, replicaEnv, startProxyProcess, startReplica, type ProxyProcess } from './support.js';

const VALUE = 'sk-dist-REAL-VALUE-5c4b3a29';
const ROTATED = 'sk-dist-ROTATED-VALUE-77aa01';
const ROTATED_AGAIN = 'sk-dist-ROTATED-AGAIN-19bd42';
const LONG_TTL = { VEIL_PROXY_CACHE_TTL_MS: '600000' };

const schema = randomSchemaName('veil_dist_proxy');
const env = replicaEnv(schema);
const processes: Array<{ stop(): Promise<unknown> }> = [];
let a: ServeProcess;
let b: ServeProcess;
let upstream: TestUpstream;
let upstreamCa: string;
let testCa: TestCa;
let secretId: string;
let boxX: { id: string; proxyToken: string; env: Record<string, string> };
let boxY: { id: string; proxyToken: string; env: Record<string, string> };
let orgKey: string;
let keyX: string;
/** Shared mode, org key, attached to replica B, long TTL. */
let shared: ProxyProcess;
/** Sidecar for sandbox X with X's scoped key, attached to replica A, long TTL. */
let sidecar: ProxyProcess;

const VALUES = [VALUE, ROTATED, ROTATED_AGAIN];

function proxyEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { VEIL_UPSTREAM_CA_FILE: upstreamCa, VEIL_RESOLVE: 'api.dist.test=127.0.0.1', ...extra };
}

async function proxy(args: string[], extraEnv: Record<string, string> = {}, caDir?: string): Promise<ProxyProcess> {
  const started = await startProxyProcess({ args: ['--proxy-listen', '127.0.0.1:0', ...args], env: proxyEnv(extraEnv), ...(caDir ? { caDir } : {}) });
  processes.push(started);
  return started;
}

/** curl through `via` to the upstream with the sandbox's placeholder; returns what the upstream saw. */
async function through(via: ProxyProcess, box: { id: string; proxyToken: string; env: Record<string, string> } | null, placeholderOf = boxX, path = '/') {
  const before = upstream.received.length;
  const result = await curl(`https://api.dist.test:${upstream.port}${path}`, [
    '-x', via.proxyUrl,
    ...(box ? ['--proxy-user', `${box.id}:${box.proxyToken}`] : []),
    '--cacert', via.caCertFile,
    '--resolve', `api.dist.test:${upstream.port}:127.0.0.1`,
    '-H', `Authorization: Bearer ${placeholderOf.env.KEY}`,
  ]);
  const seen = upstream.received.length > before ? upstream.received.at(-1)!.headers.authorization : undefined;
  return { status: result.connectStatus && result.connectStatus !== 200 ? result.connectStatus : result.status, seen, stderr: result.stderr };
}

/** An HTTPS front for a replica (TLS terminated here, certificate from the test CA), streaming both ways. */
async function tlsFront(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const leaf = testCa.issue(['127.0.0.1']);
  const server: Server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const forward = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  testCa = createTestCa();
  upstreamCa = testCa.certFile;
  upstream = await startUpstream(testCa.issue(['api.dist.test']));
  a = await startReplica(env);
  b = await startReplica(env);
  processes.push(a, b);
  const secret = await call(a.apiUrl, ADMIN_KEY, 'POST', '/secret', { name: 'dist-key', value: VALUE, hosts: ['api.dist.test'] });
  expect(secret.status).toBe(201);
  secretId = secret.json.id;
  boxX = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/sandbox', { name: 'x', secrets: [{ KEY: 'dist-key' }] })).json;
  boxY = (await call(b.apiUrl, ADMIN_KEY, 'POST', '/sandbox', { name: 'y', secrets: [{ KEY: 'dist-key' }] })).json;
  orgKey = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'] })).json.key;
  keyX = (await call(a.apiUrl, ADMIN_KEY, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'], sandboxId: boxX.id })).json.key;
  [shared, sidecar] = await Promise.all([
    proxy(['--control-plane', b.apiUrl, '--api-key', orgKey], LONG_TTL),
    // Flags and their env fallbacks: this one takes everything from the environment.
    proxy([], { ...LONG_TTL, VEIL_API_URL: a.apiUrl, VEIL_API_KEY: keyX, VEIL_SANDBOX_ID: boxX.id }),
  ]);
});

afterAll(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await upstream?.close();
  await dropSchema(schema);
});

describe('veil proxy against replicated control planes', () => {
  it('logs the ready line with proxyUrl once its change stream is connected', () => {
    for (const started of [shared, sidecar]) {
      expect(started.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.ready.changeStream).toBe('connected');
    }
  });

  it('refuses plain http:// to a non-loopback control plane, and a missing key', async () => {
    const remote = await runCli(['proxy', '--control-plane', 'http://10.20.30.40:8080', '--api-key', orgKey]);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain('plain http:// is allowed only to a loopback address');
    expect(remote.stderr).not.toContain(orgKey);
    const noKey = await runCli(['proxy', '--control-plane', 'https://cp.example']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--api-key');
  });

  it('resolves over HTTP: shared mode with proxy credentials, sidecar without', async () => {
    expect(await through(shared, boxX)).toMatchObject({ status: 200, seen: `Bearer ${VALUE}` });
    expect(await through(shared, boxY, boxY)).toMatchObject({ status: 200, seen: `Bearer ${VALUE}` });
    expect((await through(shared, { ...boxX, proxyToken: 'wrong-token' })).status).toBe(407);
    expect(await through(sidecar, null)).toMatchObject({ status: 200, seen: `Bearer ${VALUE}` });
  });

  it('talks HTTPS to the control plane, verifying its certificate against --control-plane-ca', async () => {
    const front = await tlsFront(a.apiUrl);
    processes.push({ stop: () => front.close() });
    const verified = await proxy(['--control-plane', front.url, '--control-plane-ca', testCa.certFile, '--api-key', orgKey]);
    expect(verified.ready.changeStream).toBe('connected');
    expect(await through(verified, boxX)).toMatchObject({ status: 200, seen: `Bearer ${VALUE}` });
    // Without the CA the control plane's certificate is not trusted: nothing resolves, nothing is forwarded.
    const untrusted = await startProxyProcess({
      args: ['--control-plane', front.url, '--api-key', orgKey, '--proxy-listen', '127.0.0.1:0'],
      env: proxyEnv({ VEIL_PROXY_CACHE_TTL_MS: '600000' }),
    });
    processes.push(untrusted);
    expect(untrusted.ready.changeStream).toBe('connecting');
    const refused = await through(untrusted, boxX);
    expect(refused.status).toBe(503);
    expect(refused.seen).toBeUndefined();
  });

  it('a sandbox-scoped key resolves its own sandbox only', async () => {
    const direct = await call(a.apiUrl, keyX, 'GET', `/sandbox/${boxY.id}/secrets`);
    expect(direct.status).toBe(404);
    const scopedShared = await proxy(['--control-plane', a.apiUrl, '--api-key', keyX]);
    expect(await through(scopedShared, boxX)).toMatchObject({ status: 200, seen: `Bearer ${VALUE}` });
    const other = await through(scopedShared, boxY, boxY);
    expect(other.status).toBe(407);
    expect(other.seen).toBeUndefined();
    const wrongSidecar = await proxy(['--control-plane', a.apiUrl, '--api-key', keyX, '--sandbox', boxY.id]);
    const refused = await through(wrongSidecar, null, boxY);
    expect(refused.status).toBe(503);
    expect(refused.seen).toBeUndefined();
  });

  it('pushes a rotation through replica A to the proxy on replica B (no TTL wait)', async () => {
    // Both proxies hold VALUE in a cache that stays fresh for 10 minutes.
    expect((await through(shared, boxX)).seen).toBe(`Bearer ${VALUE}`);
    expect((await through(sidecar, null)).seen).toBe(`Bearer ${VALUE}`);
    expect((await call(a.apiUrl, ADMIN_KEY, 'PATCH', `/secret/${secretId}`, { value: ROTATED })).status).toBe(200);
    // Delivery is asynchronous (NOTIFY, then SSE): allow it a bounded number of quick retries.
    await eventually(async () => (await through(shared, boxX)).seen === `Bearer ${ROTATED}`, 'rotation seen through the proxy on replica B', 20_000);
    await eventually(async () => (await through(sidecar, null)).seen === `Bearer ${ROTATED}`, 'rotation seen through the sidecar on replica A', 20_000);
  });

  it('pushes an unmount through replica B to both proxies', async () => {
    expect((await call(b.apiUrl, ADMIN_KEY, 'PUT', `/sandbox/${boxY.id}/secrets`, { secrets: [] })).status).toBe(200);
    await eventually(async () => (await through(shared, boxY, boxY)).seen === `Bearer ${boxY.env.KEY}`, 'unmounted secret no longer substituted', 20_000);
    // Sandbox X keeps its mount.
    expect((await through(shared, boxX)).seen).toBe(`Bearer ${ROTATED}`);
  });

  it('reconnects after a replica restart, resets, and is pushed to again', async () => {
    const port = Number(new URL(b.apiUrl).port);
    // SIGTERM with proxies' event streams open: the streams are ended and the replica drains and exits 0.
    expect(await b.stop()).toEqual({ code: 0, signal: null });
    // The cache is still fresh: requests keep working while replica B is down.
    expect((await through(shared, boxX)).seen).toBe(`Bearer ${ROTATED}`);
    b = await startReplica(env, port);
    processes.push(b);
    await shared.waitForLine((line) => line.msg === 'change stream connected (cache reset)' && line.reconnect === true);
    expect((await call(a.apiUrl, ADMIN_KEY, 'PATCH', `/secret/${secretId}`, { value: ROTATED_AGAIN })).status).toBe(200);
    await eventually(async () => (await through(shared, boxX)).seen === `Bearer ${ROTATED_AGAIN}`, 'rotation after the replica restart', 20_000);
  });

  it('control plane down: serves the stale copy within its bound, then fails closed with 503', async () => {
    const short = await proxy(['--control-plane', b.apiUrl, '--api-key', orgKey], { VEIL_PROXY_CACHE_TTL_MS: '300', VEIL_PROXY_CACHE_STALE_MS: '8000' });
    expect((await through(short, boxX)).seen).toBe(`Bearer ${ROTATED_AGAIN}`);
    const port = Number(new URL(b.apiUrl).port);
    await b.stop();
    await new Promise((resolve) => setTimeout(resolve, 500)); // past the 300 ms TTL
    const stale = await through(short, boxX);
    expect(stale).toMatchObject({ status: 200, seen: `Bearer ${ROTATED_AGAIN}` });
    let last = stale;
    await eventually(async () => {
      last = await through(short, boxX);
      return last.status === 503;
    }, '503 once the stale bound is over', 40_000);
    expect(last.seen).toBeUndefined();
    b = await startReplica(env, port);
    processes.push(b);
    await eventually(async () => (await through(short, boxX)).status === 200, 'serving again once the control plane is back', 30_000);
  });

  it('a restarted proxy comes back on the same address with current values', async () => {
    const port = new URL(sidecar.proxyUrl).port;
    const caDir = String(sidecar.ready.caCertFile).replace(/\/ca\.pem$/, '');
    expect(await sidecar.stop()).toEqual({ code: 0, signal: null });
    sidecar = await startProxyProcess({
      args: ['--control-plane', a.apiUrl, '--api-key', keyX, '--sandbox', boxX.id, '--proxy-listen', `127.0.0.1:${port}`],
      env: proxyEnv(LONG_TTL),
      caDir,
    });
    processes.push(sidecar);
    expect(sidecar.proxyUrl).toBe(`http://127.0.0.1:${port}`);
    expect(await through(sidecar, null)).toMatchObject({ status: 200, seen: `Bearer ${ROTATED_AGAIN}` });
  });

  it('never wrote a value or a key to its logs', () => {
    const logs = [shared, sidecar].map((started) => started.stdoutLines.join('\n') + started.stderr()).join('\n');
    expect(logs).toContain('"msg":"ready"');
    for (const secret of [...VALUES, orgKey, keyX]) expect(logs).not.toContain(secret);
    const replicaLogs = [a, b].map((replica) => replica.stdoutLines.join('\n') + replica.stderr()).join('\n');
    for (const secret of VALUES) expect(replicaLogs).not.toContain(secret);
  });
});
