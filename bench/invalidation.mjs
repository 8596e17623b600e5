#!/usr/bin/env node
/**
 * Invalidation latency across replicas and stand-alone proxies.
 *
 * Starts two `veil serve --no-proxy` replicas (A, B) on one PostgreSQL database (a fresh schema),
 * and two `veil proxy` processes (P1 attached to A, P2 attached to B) whose mapping caches stay
 * fresh for 10 minutes, so only the push (NOTIFY -> GET /events -> cache drop) can make a change
 * visible. Then, alternating the replica that takes the write:
 *   - rotation: PATCH /secret/{id} {value}; time from the API reply to the first proxied request
 *     whose substituted value (as received by the upstream) is the new one, per proxy;
 *   - delete: DELETE /secret/{id}; time from the reply to the first proxied request that reaches
 *     the upstream with the placeholder left unsubstituted.
 * Each proxy is polled in its own loop (one request at a time, ~2 ms apart) over plain HTTP to an
 * in-process upstream on 127.0.0.1; the time is taken when the upstream receives the request.
 * Prints p50/p99/max per kind and per path (proxy on the writing replica vs on the other one).
 *
 *   node bench/invalidation.mjs [--rotations 50] [--deletes 20] [--veil-main dist/cli/main.js]
 *                               [--database-url postgres://postgres@127.0.0.1:5432/test] [--json FILE]
 *
 * Everything listens on 127.0.0.1 (port 0); every wait is bounded; processes started here are
 * stopped by pid and the schema is dropped at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const { values: opts } = parseArgs({
  options: {
    rotations: { type: 'string', default: '50' },
    deletes: { type: 'string', default: '20' },
    'veil-main': { type: 'string', default: process.env.VEIL_BENCH_MAIN ?? 'dist/cli/main.js' },
    'database-url': { type: 'string', default: process.env.VEIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    json: { type: 'string' },
  },
});
const ROTATIONS = Number(opts.rotations);
const DELETES = Number(opts.deletes);
const MAIN = resolve(opts['veil-main']);
const WAIT_LIMIT_MS = 15_000; // a change not seen within this counts as a failure, not a figure
const HOST = 'bench.invalidation.test';
const log = (...parts) => process.stderr.write(`${parts.join(' ')}\n`);

const children = [];
const temp = mkdtempSync(join(tmpdir(), 'veil-bench-inval-'));
const schema = `veil_bench_inval_${randomBytes(5).toString('hex')}`;

function cleanEnv(extra) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('VEIL_')) env[name] = value;
  return { ...env, ...extra };
}

/** Spawns `veil <args>` and resolves with its parsed JSON "ready" line. */
function startVeil(args, env, label) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => reject(new Error(`${label}: no ready line within 60 s\n${stderr}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line);
        if (parsed.msg === 'ready') {
          clearTimeout(timer);
          resolvePromise(parsed);
        }
      } catch {
        // not JSON
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before ready\n${stderr}`));
    });
  });
}

async function api(base, key, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  // --- upstream: records when each request arrived and what Authorization it carried, by probe id.
  // (Kept in-process rather than echoed: the proxy scrubs secret values out of responses.)
  const arrivals = new Map();
  const upstream = createServer((req, res) => {
    const at = performance.now();
    arrivals.set(String(req.headers['x-probe'] ?? ''), { at, authorization: req.headers.authorization ?? '' });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = upstream.address().port;

  // --- two replicas on one schema
  const adminKey = `bench-admin-${randomBytes(16).toString('hex')}`;
  const url = new URL(opts['database-url']);
  url.searchParams.set('schema', schema);
  const replicaEnv = { VEIL_DATABASE_URL: url.toString(), VEIL_MASTER_KEY: randomBytes(32).toString('base64'), VEIL_ADMIN_API_KEY: adminKey };
  const serve = (name) =>
    startVeil(['serve', '--no-proxy', '--data-dir', join(temp, name), '--api-listen', '127.0.0.1:0'], replicaEnv, `replica ${name}`);
  const [readyA, readyB] = await Promise.all([serve('a'), serve('b')]);
  const A = readyA.apiUrl;
  const B = readyB.apiUrl;
  log(`replicas: A=${A} B=${B} (schema ${schema})`);

  const secret = await api(A, adminKey, 'POST', '/secret', { name: 'bench-rotated', value: 'bench-value-initial', hosts: [HOST] });
  const sandbox = await api(A, adminKey, 'POST', '/sandbox', { name: 'bench-box', secrets: [{ KEY: 'bench-rotated' }] });
  const proxyKey = (await api(A, adminKey, 'POST', '/api-keys', { org: 'default', scopes: ['proxy:resolve'] })).key;

  // --- two stand-alone proxies, one per replica, caches fresh for 10 minutes
  const proxyEnv = (name) => ({ VEIL_CA_DIR: join(temp, `ca-${name}`), VEIL_RESOLVE: `${HOST}=127.0.0.1`, VEIL_PROXY_CACHE_TTL_MS: '600000' });
  const [readyP1, readyP2] = await Promise.all([
    startVeil(['proxy', '--control-plane', A, '--api-key', proxyKey, '--proxy-listen', '127.0.0.1:0'], proxyEnv('p1'), 'proxy P1'),
    startVeil(['proxy', '--control-plane', B, '--api-key', proxyKey, '--proxy-listen', '127.0.0.1:0'], proxyEnv('p2'), 'proxy P2'),
  ]);
  const proxies = [
    { name: 'P1', attachedTo: 'A', url: new URL(readyP1.proxyUrl), agent: new Agent({ keepAlive: true, maxSockets: 1 }) },
    { name: 'P2', attachedTo: 'B', url: new URL(readyP2.proxyUrl), agent: new Agent({ keepAlive: true, maxSockets: 1 }) },
  ];
  log(`proxies: P1->A ${readyP1.proxyUrl} (${readyP1.changeStream}), P2->B ${readyP2.proxyUrl} (${readyP2.changeStream})`);
  const proxyAuth = `Basic ${Buffer.from(`${sandbox.id}:${sandbox.proxyToken}`).toString('base64')}`;

  /** One request through `proxy` with `placeholder` in Authorization; resolves with what the upstream saw. */
  let probes = 0;
  const probe = (proxy, placeholder) =>
    new Promise((resolvePromise, reject) => {
      const id = String(++probes);
      const target = `http://${HOST}:${upstreamPort}/probe`;
      const req = httpRequest(
        {
          host: proxy.url.hostname,
          port: proxy.url.port,
          method: 'GET',
          path: target,
          agent: proxy.agent,
          headers: { host: `${HOST}:${upstreamPort}`, 'proxy-authorization': proxyAuth, authorization: `Bearer ${placeholder}`, 'x-probe': id },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const arrival = arrivals.get(id);
            arrivals.delete(id);
            if (res.statusCode !== 200 || !arrival) return resolvePromise({ status: res.statusCode, at: performance.now(), authorization: null });
            resolvePromise({ status: 200, at: arrival.at, authorization: arrival.authorization });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('probe timed out')));
      req.on('error', reject);
      req.end();
    });

  /** Polls until `seen(authorization)`; returns ms from `t0` to the upstream's receipt, or null. */
  const waitUntil = async (proxy, placeholder, t0, seen) => {
    for (;;) {
      const result = await probe(proxy, placeholder);
      if (result.status === 200 && seen(result.authorization)) return result.at - t0;
      if (performance.now() - t0 > WAIT_LIMIT_MS) return null;
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  const samples = []; // {kind, proxy, sameReplica, ms}
  let failures = 0;
  const record = (kind, writer, results) => {
    for (const [index, ms] of results.entries()) {
      const proxy = proxies[index];
      if (ms === null) failures += 1;
      else samples.push({ kind, proxy: proxy.name, sameReplica: proxy.attachedTo === writer, ms });
    }
  };

  // Warm both caches.
  for (const proxy of proxies) await waitUntil(proxy, secret.placeholder, performance.now(), (auth) => auth === 'Bearer bench-value-initial');

  log(`rotations: ${ROTATIONS}`);
  for (let i = 0; i < ROTATIONS; i++) {
    const writer = i % 2 === 0 ? 'A' : 'B';
    const value = `bench-value-${i}-${randomBytes(4).toString('hex')}`;
    await api(writer === 'A' ? A : B, adminKey, 'PATCH', `/secret/${secret.id}`, { value });
    const t0 = performance.now();
    const results = await Promise.all(proxies.map((proxy) => waitUntil(proxy, secret.placeholder, t0, (auth) => auth === `Bearer ${value}`)));
    record('rotation', writer, results);
  }

  log(`deletes: ${DELETES}`);
  for (let i = 0; i < DELETES; i++) {
    const writer = i % 2 === 0 ? 'B' : 'A';
    const value = `bench-del-${i}-${randomBytes(4).toString('hex')}`;
    const doomed = await api(A, adminKey, 'POST', '/secret', { name: `bench-del-${i}`, value, hosts: [HOST] });
    await api(B, adminKey, 'PUT', `/sandbox/${sandbox.id}/secrets`, { secrets: [{ KEY: 'bench-rotated' }, { DEL: doomed.name }] });
    // Both proxies substitute it first (not timed).
    const ready = await Promise.all(proxies.map((proxy) => waitUntil(proxy, doomed.placeholder, performance.now(), (auth) => auth === `Bearer ${value}`)));
    if (ready.includes(null)) throw new Error('a proxy never picked up the new mount');
    await api(writer === 'A' ? A : B, adminKey, 'DELETE', `/secret/${doomed.id}`);
    const t0 = performance.now();
    const results = await Promise.all(proxies.map((proxy) => waitUntil(proxy, doomed.placeholder, t0, (auth) => auth === `Bearer ${doomed.placeholder}`)));
    record('delete', writer, results);
  }

  // --- report
  const rows = [];
  const groups = [
    ['rotation', 'all'],
    ['rotation', 'same'],
    ['rotation', 'cross'],
    ['delete', 'all'],
    ['delete', 'same'],
    ['delete', 'cross'],
  ];
  for (const [kind, path] of groups) {
    const ms = samples
      .filter((s) => s.kind === kind && (path === 'all' || (path === 'same') === s.sameReplica))
      .map((s) => s.ms)
      .sort((x, y) => x - y);
    rows.push({ kind, path, n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1) ?? NaN });
  }
  const fmt = (n) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const pathName = { all: 'all proxies', same: 'proxy on the writing replica', cross: 'proxy on the other replica' };
  const lines = [
    `Invalidation latency: API reply -> first proxied request that sees the change (ms; 2 replicas on PostgreSQL, 2 veil proxy, cache TTL 10 min)`,
    '',
    '| change | path | n | p50 | p99 | max |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.kind} | ${pathName[r.path]} | ${r.n} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} |`),
    '',
    `not seen within ${WAIT_LIMIT_MS} ms: ${failures}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ rows, samples, failures }, null, 2));
  for (const proxy of proxies) proxy.agent.destroy();
  await new Promise((r) => upstream.close(r));
  return failures === 0 ? 0 : 1;
}

async function cleanup() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(killer);
            r();
          });
        }),
    ),
  );
  rmSync(temp, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: opts['database-url'] });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (error) {
    log(`could not drop schema ${schema}: ${error.message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

main()
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  })
  .catch(async (error) => {
    log(`bench failed: ${error.stack ?? error}`);
    await cleanup();
    process.exit(1);
  });
