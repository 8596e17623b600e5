/**
 * `veil run` and `veil env` against a running `veil serve` (remote mode: VEIL_API_URL,
 * VEIL_API_KEY, VEIL_PROXY_URL, VEIL_CA_CERT_FILE), with real clients and HTTPS servers on
 * 127.0.0.1 standing for the real APIs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { baseEnv, CLIENTS, fakeSecretValue, makeUpstreamPki, runCli, runProgram, startUpstream, startWaitingRun, type CliResult, type Upstream } from './support.js';
import { skipWithout } from '../helpers/tools.js';

const API_HOST = 'api.openai.test';
const PLAIN_HOST = 'plain.example.test';
const VALUE = fakeSecretValue('sk-remote-');

let temp: { path: string; remove(): void };
let api: Upstream;
let serve: ServeProcess;
let remoteEnv: Record<string, string>;
let placeholder: string;
let plain: Server;
let plainPort: number;
const plainRequests: { url: string | undefined; authorization: string | undefined }[] = [];
const outputs: CliResult[] = [];

async function veil(args: string[], extra: Record<string, string> = {}, input?: string): Promise<CliResult> {
  const result = await runCli(args, { ...remoteEnv, ...extra }, input === undefined ? {} : { input });
  outputs.push(result);
  return result;
}

beforeAll(async () => {
  temp = makeTempDir('veil-run-remote-');
  const pki = makeUpstreamPki(join(temp.path, 'pki'), [API_HOST]);
  api = await startUpstream(pki);
  plain = createServer((req, res) => {
    plainRequests.push({ url: req.url, authorization: req.headers.authorization });
    res.end('plain-ok\n');
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  plainPort = (plain.address() as AddressInfo).port;
  serve = await startServeProcess({
    proxy: true,
    env: { VEIL_RESOLVE: `${API_HOST}=127.0.0.1,${PLAIN_HOST}=127.0.0.1`, VEIL_UPSTREAM_CA_FILE: pki.caFile },
  });
  if (!serve.proxyUrl) throw new Error('`veil serve --proxy-listen 127.0.0.1:0` printed no proxyUrl in its ready line: the proxy is not wired into serve (src/app/proxy-hook.ts)');
  remoteEnv = {
    ...baseEnv(),
    VEIL_API_URL: serve.apiUrl,
    VEIL_API_KEY: serve.adminApiKey,
    VEIL_PROXY_URL: serve.proxyUrl,
    VEIL_CA_CERT_FILE: join(serve.dataDir, 'certs', 'ca.pem'),
    // Trust files of `veil env` go here (default <data-dir>/trust).
    VEIL_DATA_DIR: join(temp.path, 'client-data'),
  };
  const created = await veil(['secrets', 'create', 'OPENAI', '--host', API_HOST, '--json'], {}, VALUE);
  expect(created.code, created.stderr).toBe(0);
  placeholder = (JSON.parse(created.stdout) as { placeholder: string }).placeholder;
}, 90_000);

afterAll(async () => {
  await serve?.stop();
  await api?.close();
  plain?.closeAllConnections();
  await new Promise((resolve) => (plain ? plain.close(resolve) : resolve(undefined)));
  temp?.remove();
});

async function sandboxNames(): Promise<string[]> {
  const response = await fetch(`${serve.apiUrl}/sandbox`, { headers: { authorization: `Bearer ${serve.adminApiKey}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { name: string }[]).map((sandbox) => sandbox.name);
}

describe('veil run, remote mode', () => {
  it('registers the sandbox on the control plane, reaches the shared proxy through a local forwarder, deletes the sandbox', async () => {
    const result = await veil([
      'run',
      '--sandbox-name',
      'remote-run-1',
      '--secret',
      'OPENAI_API_KEY=OPENAI',
      '--',
      'sh',
      '-c',
      `node -e 'const e = process.env; console.log(JSON.stringify({ proxy: e.HTTPS_PROXY, keys: Object.keys(e).filter((n) => n.startsWith("VEIL_")) }))' && python3 ${join(CLIENTS, 'requests_client.py')} https://${API_HOST}:${api.port}/v1/remote-requests OPENAI_API_KEY && node ${join(CLIENTS, 'fetch_client.mjs')} https://${API_HOST}:${api.port}/v1/remote-fetch OPENAI_API_KEY`,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const first = JSON.parse(result.stdout.split('\n')[0]!) as { proxy: string; keys: string[] };
    // The child talks to a local forwarder without credentials; the forwarder adds the sandbox's.
    const proxy = new URL(first.proxy);
    expect(proxy.hostname).toBe('127.0.0.1');
    expect(proxy.username).toBe('');
    expect(proxy.password).toBe('');
    expect(`${proxy.protocol}//${proxy.host}`).not.toBe(serve.proxyUrl);
    expect(first.keys).toEqual([]);
    expect(result.stdout).not.toContain(serve.adminApiKey);
    expect(result.stdout.split(`client-saw OPENAI_API_KEY=${placeholder}\n`)).toHaveLength(3);
    for (const path of ['/v1/remote-requests', '/v1/remote-fetch']) {
      const request = api.requests.find((candidate) => candidate.url === path);
      expect(request?.headers.authorization).toBe(`Bearer ${VALUE}`);
    }
    expect(await sandboxNames()).not.toContain('remote-run-1');
  });

  it.skipIf(skipWithout('java', ['-version']))("Java's HttpClient works with the shared proxy too (no proxy credentials needed in Java)", async () => {
    const result = await veil(['run', '--secret', 'OPENAI_API_KEY=OPENAI', '--', 'java', join(CLIENTS, 'Client.java'), `https://${API_HOST}:${api.port}/v1/remote-java`, 'OPENAI_API_KEY']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`client-saw OPENAI_API_KEY=${placeholder}\n`);
    expect(api.requests.find((request) => request.url === '/v1/remote-java')?.headers.authorization).toBe(`Bearer ${VALUE}`);
  }, 60_000);

  it('plain http:// requests go through the forwarder to the shared proxy too', async () => {
    // plain.example.test resolves only inside the proxy (VEIL_RESOLVE): a reply proves the path.
    const result = await veil(['run', '--secret', 'OPENAI_API_KEY=OPENAI', '--', 'sh', '-c', `curl -sS -H "Authorization: Bearer $OPENAI_API_KEY" http://${PLAIN_HOST}:${plainPort}/v1/plain`]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('plain-ok\n');
    // Not on the allowlist: the placeholder, not the value.
    expect(plainRequests).toEqual([{ url: '/v1/plain', authorization: `Bearer ${placeholder}` }]);
  });

  it('without VEIL_PROXY_URL or VEIL_CA_CERT_FILE it uses the proxy and CA from the control plane reply', async () => {
    const result = await veil(
      ['run', '--sandbox-name', 'remote-run-2', '--secret', 'OPENAI_API_KEY=OPENAI', '--', 'node', join(CLIENTS, 'fetch_client.mjs'), `https://${API_HOST}:${api.port}/v1/from-reply`, 'OPENAI_API_KEY'],
      { VEIL_PROXY_URL: '', VEIL_CA_CERT_FILE: '', VEIL_CA_DIR: join(temp.path, 'no-ca-here') },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`client-saw OPENAI_API_KEY=${placeholder}\n`);
    expect(api.requests.find((request) => request.url === '/v1/from-reply')?.headers.authorization).toBe(`Bearer ${VALUE}`);
    expect(await sandboxNames()).not.toContain('remote-run-2');
  });
});

describe('veil run killed with SIGKILL, remote mode', () => {
  it.skipIf(process.platform !== 'linux')('the next run on this machine deletes the sandbox left behind, and only sandboxes of dead runs of this machine', async () => {
    const call = (method: string, path: string, body?: unknown) => adminApi(serve, method, path, body);
    // Left alone: a run of another machine (or pid namespace), and a sandbox named by hand.
    const foreign = 'veil-run-0123456789abcdef-1-1-00000000';
    for (const name of [foreign, 'veil-run-by-hand']) expect((await call('POST', '/sandbox', { name, secrets: [] })).status).toBe(201);
    const before = await sandboxNames();

    const run = startWaitingRun(['--secret', 'K=OPENAI'], 'setInterval(() => {}, 1000); console.log("pid=" + process.pid); console.log("ready")', { ...baseEnv(), ...remoteEnv });
    const child = run.child;
    // 'exit', not 'close': the command outlives a SIGKILLed veil run and keeps the pipes open.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let grandchild = 0;
    try {
      await run.ready;
      grandchild = Number(/pid=(\d+)/.exec(run.output().stdout)![1]);
      const mine = (await sandboxNames()).filter((name) => !before.includes(name));
      expect(mine).toHaveLength(1);
      const name = mine[0]!;
      expect(name).toMatch(new RegExp(`^veil-run-[0-9a-f]{16}-${child.pid}-[0-9]+-[0-9a-f]{8}$`));

      // A run while that one lives leaves its sandbox alone.
      const alongside = await veil(['run', '--secret', 'K=OPENAI', '--', 'true']);
      expect(alongside.stderr).toBe('');
      expect(alongside.code).toBe(0);
      expect(await sandboxNames()).toContain(name);

      child.kill('SIGKILL');
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
      process.kill(grandchild, 'SIGKILL'); // SIGKILL is not relayed: the command outlived veil run
      grandchild = 0;
      expect(await sandboxNames()).toContain(name);

      const next = await veil(['run', '--secret', 'K=OPENAI', '--', 'true']);
      expect(next.stderr).toBe('');
      expect(next.code).toBe(0);
      const after = await sandboxNames();
      expect(after).not.toContain(name);
      expect(after.sort()).toEqual([...before].sort());
      expect(after).toEqual(expect.arrayContaining([foreign, 'veil-run-by-hand']));
    } finally {
      child.kill('SIGKILL');
      if (grandchild) {
        try {
          process.kill(grandchild, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const name of [foreign, 'veil-run-by-hand']) await call('DELETE', `/sandbox/${name}`);
    }
  });
});

describe('veil run against a control plane that knows no proxy', () => {
  it('needs VEIL_PROXY_URL and cleans up the sandbox when it is missing', async () => {
    const noProxy = await startServeProcess();
    try {
      const env = { ...remoteEnv, VEIL_API_URL: noProxy.apiUrl, VEIL_API_KEY: noProxy.adminApiKey, VEIL_PROXY_URL: '' };
      const created = await veil(['secrets', 'create', 'OPENAI', '--host', API_HOST], env, VALUE);
      expect(created.code, created.stderr).toBe(0);
      const result = await veil(['run', '--sandbox-name', 'remote-run-3', '--secret', 'K=OPENAI', '--', 'true'], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('VEIL_PROXY_URL');
      const listed = await fetch(`${noProxy.apiUrl}/sandbox`, { headers: { authorization: `Bearer ${noProxy.adminApiKey}` } });
      expect(((await listed.json()) as { name: string }[]).map((sandbox) => sandbox.name)).not.toContain('remote-run-3');
    } finally {
      await noProxy.stop();
    }
  });
});

describe('veil env', () => {
  let sandboxId: string;
  let proxyToken: string;

  beforeAll(async () => {
    const response = await fetch(`${serve.apiUrl}/sandbox`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.adminApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'env-sandbox', secrets: [{ OPENAI_API_KEY: 'OPENAI' }] }),
    });
    expect(response.status).toBeLessThan(300);
    const created = (await response.json()) as { id: string; proxyToken: string };
    sandboxId = created.id;
    proxyToken = created.proxyToken;
  });

  /** Evaluates `veil env` shell output in sh, then runs curl with the result. */
  async function curlWithEnv(shellText: string, path: string) {
    const script = `${shellText}\nprintf 'client-saw %s\\n' "$OPENAI_API_KEY"; curl -sS -f -H "Authorization: Bearer $OPENAI_API_KEY" https://${API_HOST}:${api.port}${path}`;
    return runProgram('sh', ['-c', script], { env: { PATH: process.env.PATH, HOME: temp.path } });
  }

  it('remote mode: prints a shell env that works as is when the proxy token is given', async () => {
    const result = await veil(['env', '--sandbox', sandboxId], { VEIL_PROXY_TOKEN: proxyToken });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`export OPENAI_API_KEY='${placeholder}'\n`);
    expect(result.stdout).toMatch(/^export HTTPS_PROXY='http:\/\/[0-9a-f-]{36}:[^@']+@127\.0\.0\.1:\d+'$/m);
    const run = await curlWithEnv(result.stdout, '/v1/env-remote');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`client-saw ${placeholder}\nupstream-ok ${api.requests.length}\n`);
    expect(api.requests.find((request) => request.url === '/v1/env-remote')?.headers.authorization).toBe(`Bearer ${VALUE}`);
  });

  it('local mode on the server data dir: dotenv and json formats', async () => {
    const local = { VEIL_API_URL: '', VEIL_API_KEY: '', VEIL_CA_CERT_FILE: '', VEIL_DATA_DIR: serve.dataDir, VEIL_CA_DIR: join(serve.dataDir, 'certs'), VEIL_PROXY_TOKEN: proxyToken };
    const json = await veil(['env', '--sandbox', 'env-sandbox', '--format', 'json'], local);
    expect(json.code, json.stderr).toBe(0);
    const vars = JSON.parse(json.stdout) as Record<string, string>;
    expect(vars.OPENAI_API_KEY).toBe(placeholder);
    expect(new URL(vars.HTTPS_PROXY!).password).toBe(encodeURIComponent(proxyToken));
    expect(vars.SSL_CERT_FILE).toContain(join(serve.dataDir, 'trust'));
    const dotenv = await veil(['env', '--sandbox', sandboxId, '--format', 'dotenv'], local);
    expect(dotenv.code).toBe(0);
    expect(dotenv.stdout).toContain(`OPENAI_API_KEY='${placeholder}'\n`);
    // dotenv lines are valid shell assignments for these values: use them through `set -a`.
    const run = await curlWithEnv(`set -a\n${dotenv.stdout}set +a`, '/v1/env-local');
    expect(run.stderr).toBe('');
    expect(api.requests.find((request) => request.url === '/v1/env-local')?.headers.authorization).toBe(`Bearer ${VALUE}`);
  });

  it('without the token: a <PROXY_TOKEN> marker and a note on stderr', async () => {
    const result = await veil(['env', '--sandbox', sandboxId]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`export HTTPS_PROXY='http://${sandboxId}:<PROXY_TOKEN>@`);
    expect(result.stderr).toContain('<PROXY_TOKEN>');
  });

  it('never prints a value, and the trust files it writes hold none', () => {
    for (const result of outputs) {
      expect(result.stdout.includes(VALUE)).toBe(false);
      expect(result.stderr.includes(VALUE)).toBe(false);
    }
    let files = 0;
    for (const trustDir of [join(temp.path, 'client-data', 'trust'), join(serve.dataDir, 'trust')]) {
      for (const file of readdirSync(trustDir)) {
        files++;
        expect(readFileSync(join(trustDir, file)).includes(VALUE), file).toBe(false);
      }
    }
    expect(files).toBeGreaterThanOrEqual(8);
  });
});
