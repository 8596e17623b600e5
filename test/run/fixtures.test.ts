/**
 * The fixtures of the `veil run` tests, without Veil: each client program talks straight to an
 * upstream server that trusts only the test PKI. When these pass and run.test.ts fails, the
 * failure is Veil's, not the fixtures'.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, makeBareRepo, makeUpstreamPki, runProgram, startGitServer, startUpstream, type Upstream, type UpstreamPki } from './support.js';
import { skipWithout } from '../helpers/tools.js';

let dir: string;
let pki: UpstreamPki;
let upstream: Upstream;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veil-fixtures-'));
  pki = makeUpstreamPki(dir, ['localhost']);
  upstream = await startUpstream(pki);
});
afterAll(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

const CLIENT_COMMANDS: Array<[string, (url: string) => string[]]> = [
  ['python urllib', (url) => ['python3', join(CLIENTS, 'urllib_client.py'), url, 'TOKEN']],
  ['python requests', (url) => ['python3', join(CLIENTS, 'requests_client.py'), url, 'TOKEN']],
  ['node fetch', (url) => ['node', join(CLIENTS, 'fetch_client.mjs'), url, 'TOKEN']],
  ['node undici', (url) => ['node', join(CLIENTS, 'undici_client.mjs'), url, 'TOKEN']],
  ['node axios', (url) => ['node', join(CLIENTS, 'axios_client.mjs'), url, 'TOKEN']],
  ['node https', (url) => ['node', join(CLIENTS, 'https_client.mjs'), url, 'TOKEN']],
];

describe('fixture clients, direct', () => {
  it.each(CLIENT_COMMANDS)('%s sends the bearer header and prints what it saw', async (_name, command) => {
    const before = upstream.requests.length;
    const [bin, ...args] = command(`https://localhost:${upstream.port}/v1/models`);
    const result = await runProgram(bin!, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TOKEN: 'tok-123', SSL_CERT_FILE: pki.caFile, REQUESTS_CA_BUNDLE: pki.caFile, NODE_EXTRA_CA_CERTS: pki.caFile },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('client-saw TOKEN=tok-123');
    expect(result.stdout).toContain('status 200');
    expect(result.stdout).toMatch(/body upstream-ok \d+/);
    expect(upstream.requests.length).toBe(before + 1);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer tok-123');
  });

  it('the git server serves a clone', async () => {
    const repos = join(dir, 'repos');
    const work = join(dir, 'work');
    const gitEnv = { PATH: process.env.PATH, HOME: dir, GIT_SSL_CAINFO: pki.caFile, GIT_TERMINAL_PROMPT: '0' };
    const git = (args: string[], cwd = dir) => runProgram('git', args, { cwd, env: gitEnv, timeoutMs: 30_000 });
    makeBareRepo(dir, join(repos, 'demo.git'));
    const server = await startGitServer(pki, repos);
    try {
      const clone = await git(['-c', 'http.extraHeader=Authorization: Bearer tok-git', 'clone', '-q', `https://localhost:${server.port}/demo.git`, join(dir, 'clone')]);
      expect(clone.stderr).toBe('');
      expect(clone.code).toBe(0);
      expect((await git(['log', '--format=%s'], join(dir, 'clone'))).stdout.trim()).toBe('first');
      expect(server.requests.length).toBeGreaterThan(0);
      expect(server.requests.every((request) => request.headers.authorization === 'Bearer tok-git')).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(skipWithout('java', ['-version']))('fixture Java client, direct', () => {
  it('sends the bearer header with a PKCS#12 truststore from JAVA_TOOL_OPTIONS', async () => {
    const store = join(dir, 'trust.p12');
    const keytool = spawnSync('keytool', ['-importcert', '-noprompt', '-alias', 'up', '-file', pki.caFile, '-keystore', store, '-storetype', 'PKCS12', '-storepass', 'changeit'], { encoding: 'utf8' });
    expect(keytool.status).toBe(0);
    const result = await runProgram('java', [join(CLIENTS, 'Client.java'), `https://localhost:${upstream.port}/v1/models`, 'TOKEN'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TOKEN: 'tok-java',
        JAVA_TOOL_OPTIONS: `-Djavax.net.ssl.trustStore=${store} -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12`,
      },
    });
    expect(result.stdout).toContain('client-saw TOKEN=tok-java');
    expect(result.stdout).toContain('status 200');
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer tok-java');
  });
});
