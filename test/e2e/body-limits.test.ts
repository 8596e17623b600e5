/**
 * Body limits as a `veil serve` user sets them: VEIL_PROXY_BODY_MEMORY_BYTES (spill threshold),
 * VEIL_PROXY_SPILL_DIR and VEIL_PROXY_BODY_MAX_BYTES (413), through the real process and curl.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { createTestCa, startUpstream, type TestUpstream } from '../helpers/upstream.js';

const VALUE = 'client-secret-BODY-LIMITS-7d6c5b';
const HOST = 'auth.example.test';

describe('veil serve: request body limits from the environment', () => {
  const temp = makeTempDir('veil-body-limits-');
  const spillDir = join(temp.path, 'spill');
  let upstream: TestUpstream;
  let veil: ServeProcess;
  let sandbox: { id: string; proxyToken: string; env: Record<string, string> };

  async function api(method: string, path: string, body: unknown, on = veil): Promise<any> {
    const reply = await adminApi(on, method, path, body);
    expect(reply.status).toBe(201);
    return reply.json;
  }

  function post(size: number, on = veil, box = sandbox) {
    const placeholder = box.env.CLIENT_SECRET!;
    const form = `grant_type=client_credentials&client_secret=${placeholder}&pad=`;
    const file = join(temp.path, `body-${size}`);
    writeFileSync(file, form + 'x'.repeat(size - form.length));
    return curl(`https://${HOST}:${upstream.port}/oauth/token`, [
      '-x', on.proxyUrl!,
      '--proxy-user', `${box.id}:${box.proxyToken}`,
      '--cacert', join(on.dataDir, 'certs', 'ca.pem'),
      '--resolve', `${HOST}:${upstream.port}:127.0.0.1`,
      '-H', 'Content-Type: application/x-www-form-urlencoded',
      '--data-binary', `@${file}`,
    ]);
  }

  let upstreamCaFile: string;
  async function startVeilWith(spill: string): Promise<{ veil: ServeProcess; sandbox: typeof sandbox }> {
    const started = await startServeProcess({
      proxy: true,
      env: {
        VEIL_UPSTREAM_CA_FILE: upstreamCaFile,
        VEIL_RESOLVE: `${HOST}=127.0.0.1`,
        VEIL_PROXY_BODY_MEMORY_BYTES: '1KiB',
        VEIL_PROXY_BODY_MAX_BYTES: '64KiB',
        VEIL_PROXY_SPILL_DIR: spill,
      },
    });
    await api('POST', '/secret', { name: 'oauth', value: VALUE, hosts: [HOST], locations: ['body'] }, started);
    return { veil: started, sandbox: await api('POST', '/sandbox', { secrets: [{ CLIENT_SECRET: 'oauth' }] }, started) };
  }

  beforeAll(async () => {
    mkdirSync(spillDir, { mode: 0o700 });
    const testCa = createTestCa();
    upstreamCaFile = testCa.certFile;
    upstream = await startUpstream(testCa.issue([HOST]));
    ({ veil, sandbox } = await startVeilWith(spillDir));
  });

  afterAll(async () => {
    await veil?.stop();
    await upstream?.close();
    temp.remove();
  });

  it('spills a body over the memory limit to the configured directory and removes it', async () => {
    const result = await post(16 * 1024);
    expect(result.status).toBe(200);
    const received = upstream.received.at(-1)!;
    expect(received.body).toContain(`client_secret=${VALUE}&`);
    expect(Number(received.headers['content-length'])).toBe(Buffer.byteLength(received.body));
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it('really spills to VEIL_PROXY_SPILL_DIR: an unusable one fails the large body, not the small one', async () => {
    const blocker = join(temp.path, 'a-file');
    writeFileSync(blocker, '');
    const broken = await startVeilWith(join(blocker, 'spill'));
    try {
      const before = upstream.received.length;
      const large = await post(16 * 1024, broken.veil, broken.sandbox);
      // The proxy's own failure: 500 naming the temp file problem, never blamed on the client.
      expect(large.status).toBe(500);
      expect(large.body).toContain('could not store the request body');
      expect(upstream.received.length).toBe(before);
      expect((await post(512, broken.veil, broken.sandbox)).status).toBe(200);
    } finally {
      await broken.veil.stop();
    }
  });

  it('refuses a body over the maximum with 413 and forwards nothing', async () => {
    const before = upstream.received.length;
    const result = await post(128 * 1024);
    expect(result.status).toBe(413);
    expect(result.body).not.toContain(VALUE);
    expect(upstream.received.length).toBe(before);
  });
});
