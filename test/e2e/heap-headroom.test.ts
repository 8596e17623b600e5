/**
 * Under a stream of 64 KiB HTTPS POSTs with body substitution, `veil serve` keeps V8's full-GC
 * limit well above its live heap (src/proxy/heap-headroom.ts), so mark-compacts stay rare. Two real
 * `veil serve` processes take the same load through their proxy, one as shipped and one started with
 * the operator's `--heap-growing-percent=0` (V8's own factor, which Veil then leaves alone), and
 * --trace-gc counts their mark-compacts. A count, not a time: the load is bounded in requests.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { createTestCa, type TestCa } from '../helpers/upstream.js';

const HOST = 'api.heap.test';
const VALUE = 'sk-heap-REAL-VALUE-5e4d3c2b1a';
const REQUESTS = 5_000;
const CONNECTIONS = 16;
const BODY_BYTES = 64 * 1024;

/**
 * An HTTPS upstream that reads each body whole, counts the real values it saw, and answers `ok`
 * (test/helpers/upstream.ts keeps every request body: 640 MB over this test's POSTs).
 */
async function startSink(ca: TestCa): Promise<{ port: number; withValue: () => number; close: () => Promise<void> }> {
  let withValue = 0;
  const leaf = ca.issue([HOST]);
  const server: Server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (Buffer.concat(chunks).subarray(0, VALUE.length).toString() === VALUE && req.headers.authorization === `Bearer ${VALUE}`) withValue += 1;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    withValue: () => withValue,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function startVeil(ca: TestCa, nodeArgs: string[]): Promise<{ veil: ServeProcess; placeholder: string; agent: ProxyAgent }> {
  const veil = await startServeProcess({
    proxy: true,
    nodeArgs: ['--trace-gc', ...nodeArgs],
    env: { VEIL_UPSTREAM_CA_FILE: ca.certFile, VEIL_RESOLVE: `${HOST}=127.0.0.1` },
  });
  const api = async (path: string, body: unknown) => {
    const reply = await adminApi(veil, 'POST', path, body);
    expect(reply.status).toBe(201);
    return reply.json as Record<string, any>;
  };
  await api('/secret', { name: 'heap', value: VALUE, hosts: [HOST], locations: ['header', 'body'] });
  const sandbox = await api('/sandbox', { name: 'heap-box', secrets: [{ API_KEY: 'heap' }] });
  const agent = new ProxyAgent({
    uri: veil.proxyUrl!,
    token: `Basic ${Buffer.from(`${sandbox.id}:${sandbox.proxyToken}`).toString('base64')}`,
    requestTls: { ca: readFileSync(String(veil.ready.caCertFile ?? join(veil.dataDir, 'certs', 'ca.pem')), 'utf8') },
    connections: CONNECTIONS,
  });
  return { veil, placeholder: sandbox.env.API_KEY as string, agent };
}

/** Sends REQUESTS POSTs over CONNECTIONS keep-alive tunnels; returns the mark-compacts seen meanwhile. */
async function markCompactsUnderLoad(target: { veil: ServeProcess; placeholder: string; agent: ProxyAgent }, port: number): Promise<number> {
  const body = Buffer.alloc(BODY_BYTES, 'x');
  body.write(target.placeholder);
  const post = async () => {
    const response = await request(`https://${HOST}:${port}/upload`, {
      method: 'POST',
      dispatcher: target.agent,
      headers: { authorization: `Bearer ${target.placeholder}`, 'content-type': 'application/octet-stream' },
      body,
    });
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}: ${await response.body.text()}`);
    await response.body.text();
  };
  for (let index = 0; index < CONNECTIONS; index++) await post(); // warm-up: tunnels, certificate, JIT
  const before = target.veil.stdoutLines.length;
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (sent < REQUESTS) {
        sent += 1;
        await post();
      }
    }),
  );
  return target.veil.stdoutLines.slice(before).filter((line) => line.includes('Mark-Compact')).length;
}

describe('heap headroom under 64 KiB HTTPS POSTs', () => {
  let ca: TestCa;
  let sink: Awaited<ReturnType<typeof startSink>>;
  const started: Array<{ veil: ServeProcess; agent: ProxyAgent }> = [];

  beforeAll(async () => {
    ca = createTestCa();
    sink = await startSink(ca);
  });

  afterAll(async () => {
    for (const { veil, agent } of started) {
      await agent.close();
      await veil.stop();
    }
    await sink?.close();
  });

  it('runs far fewer mark-compacts than with V8 choosing the heap limit itself', async () => {
    const shipped = await startVeil(ca, []);
    started.push(shipped);
    const withHeadroom = await markCompactsUnderLoad(shipped, sink.port);

    const defaults = await startVeil(ca, ['--heap-growing-percent=0']);
    started.push(defaults);
    const withDefaults = await markCompactsUnderLoad(defaults, sink.port);

    // Every request went through substitution (the value in the header and at the body's start).
    expect(sink.withValue()).toBe(2 * (REQUESTS + CONNECTIONS));
    console.log(`mark-compacts over ${REQUESTS} POSTs: V8 defaults ${withDefaults}, with headroom ${withHeadroom}`);
    // Seen on 2 shared cores over 5,000 POSTs: V8 defaults 16-25, with the headroom 6 (over 3,000:
    // 7-16 and 2-4, and a build with the headroom disabled gave 10 and 11). Room for a busy machine.
    expect(withDefaults).toBeGreaterThanOrEqual(4);
    expect(withHeadroom * 2).toBeLessThanOrEqual(withDefaults);
  }, 120_000);
});
