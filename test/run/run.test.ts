/**
 * `veil run` end to end, local mode: the real CLI (`node dist/cli/main.js run ...`) as a child
 * process over a temp data dir, real clients inside it, and HTTPS servers on 127.0.0.1 standing for
 * the real APIs (names pinned with VEIL_RESOLVE, their CA given with VEIL_UPSTREAM_CA_FILE). The
 * server must receive the real value; the client must only ever see the placeholder.
 */
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteRepository } from '../../src/store/sqlite.js';
import { runOnTerminal } from '../helpers/pty.js';
import { skipWithout } from '../helpers/tools.js';
import {
  baseEnv,
  CLI,
  CLIENTS,
  fakeSecretValue,
  makeBareRepo,
  makeUpstreamPki,
  runCli,
  startGitServer,
  startUpstream,
  startWaitingRun,
  type CliResult,
  type Upstream,
  type UpstreamPki,
} from './support.js';

const API_HOST = 'api.openai.test';
/** Public-looking and NOT on the secret's allowlist. */
const OTHER_HOST = 'collector.example.com';
const GIT_HOST = 'git.example.test';
const PLACEHOLDER = /^veil_[A-Za-z0-9]{32}$/;

const VALUE = fakeSecretValue('sk-test-');
const GIT_VALUE = fakeSecretValue('ghp_');

let dir: string;
let pki: UpstreamPki;
let api: Upstream;
let git: Upstream;
/** The same repositories behind a server that demands credentials (401 + Basic challenge). */
let gitAuth: Upstream;
let env: Record<string, string>;
let placeholder: string;
let gitPlaceholder: string;
const outputs: CliResult[] = [];

async function veil(args: string[], extra: Record<string, string> = {}, input?: string): Promise<CliResult> {
  const result = await runCli(args, { ...env, ...extra }, input === undefined ? {} : { input });
  outputs.push(result);
  return result;
}

async function createSecret(name: string, value: string, host: string): Promise<string> {
  const result = await veil(['secrets', 'create', name, '--host', host, '--json'], {}, value);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const secret = JSON.parse(result.stdout) as { placeholder: string };
  expect(secret.placeholder).toMatch(PLACEHOLDER);
  return secret.placeholder;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veil-run-'));
  pki = makeUpstreamPki(join(dir, 'pki'), [API_HOST, OTHER_HOST, GIT_HOST]);
  api = await startUpstream(pki);
  const repos = join(dir, 'repos');
  makeBareRepo(dir, join(repos, 'demo.git'));
  git = await startGitServer(pki, repos);
  gitAuth = await startGitServer(pki, repos, { requireAuth: true });
  env = {
    ...baseEnv(),
    VEIL_DATA_DIR: join(dir, 'data'),
    VEIL_CA_DIR: join(dir, 'ca'),
    VEIL_RESOLVE: `${API_HOST}=127.0.0.1,${OTHER_HOST}=127.0.0.1,${GIT_HOST}=127.0.0.1`,
    VEIL_UPSTREAM_CA_FILE: pki.caFile,
  };
  // Local mode: no VEIL_API_URL; `secrets create` initializes the data dir.
  placeholder = await createSecret('OPENAI', VALUE, API_HOST);
  gitPlaceholder = await createSecret('GITHUB', GIT_VALUE, GIT_HOST);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await git?.close();
  await gitAuth?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The request the upstream got on `path` (each test uses its own). */
function requestOn(server: Upstream, path: string) {
  const matching = server.requests.filter((request) => request.url === path);
  expect(matching).toHaveLength(1);
  return matching[0]!;
}

/** Runs a fixture client under `veil run` with OPENAI mounted as OPENAI_API_KEY. */
async function runClient(command: string[], path: string, host = API_HOST): Promise<CliResult> {
  const url = `https://${host}:${api.port}${path}`;
  return veil(['run', '--secret', 'OPENAI_API_KEY=OPENAI', '--', ...command, url, 'OPENAI_API_KEY']);
}

function expectSubstituted(result: CliResult, path: string): void {
  expect(result.stdout).toContain(`client-saw OPENAI_API_KEY=${placeholder}\n`);
  expect(result.stdout).toContain('status 200');
  expect(result.stdout).toMatch(/body upstream-ok \d+/);
  expect(result.code).toBe(0);
  expect(requestOn(api, path).headers.authorization).toBe(`Bearer ${VALUE}`);
}

describe('veil run: every client gets the value substituted on the allowed host', () => {
  it('curl', async () => {
    const result = await veil([
      'run',
      '--secret',
      'OPENAI_API_KEY=OPENAI',
      '--',
      'sh',
      '-c',
      `echo "client-saw OPENAI_API_KEY=$OPENAI_API_KEY"; f=$(mktemp); echo "status $(curl -sS -o "$f" -w '%{http_code}' -H "Authorization: Bearer $OPENAI_API_KEY" https://${API_HOST}:${api.port}/v1/curl)"; echo "body $(cat "$f")"; rm -f "$f"`,
    ]);
    expect(result.stderr).toBe('');
    expectSubstituted(result, '/v1/curl');
  });

  it('wget', async () => {
    const result = await veil([
      'run',
      '--secret',
      'OPENAI_API_KEY=OPENAI',
      '--',
      'sh',
      '-c',
      `echo "client-saw OPENAI_API_KEY=$OPENAI_API_KEY"; body=$(wget -q -O - --header="Authorization: Bearer $OPENAI_API_KEY" https://${API_HOST}:${api.port}/v1/wget) && echo "status 200"; echo "body $body"`,
    ]);
    expect(result.stderr).toBe('');
    expectSubstituted(result, '/v1/wget');
  });

  it.each([
    ['python3 urllib', ['python3', 'urllib_client.py'], '/v1/urllib'],
    ['python3 requests', ['python3', 'requests_client.py'], '/v1/requests'],
    ["Node's built-in fetch (through the NODE_OPTIONS preload)", ['node', 'fetch_client.mjs'], '/v1/fetch'],
    ['undici', ['node', 'undici_client.mjs'], '/v1/undici'],
    ['axios', ['node', 'axios_client.mjs'], '/v1/axios'],
    ['node:https with the global agent (through the preload)', ['node', 'https_client.mjs'], '/v1/node-https'],
    ['node:https with an agent of its own (AWS SDK, stripe, got do this)', ['node', 'https_agent_client.mjs'], '/v1/node-https-agent'],
    ['raw tls.connect (ESM named import)', ['node', 'tls_raw_client.mjs'], '/v1/tls-raw'],
    ['ws (its own createConnection: tls.connect)', ['node', 'ws_client.mjs'], '/v1/ws'],
  ] as const)('%s', async (_client, [runtime, script], path) => {
    const result = await runClient([runtime, join(CLIENTS, script)], path);
    expect(result.stderr).toBe('');
    expectSubstituted(result, path);
  });

  it.skipIf(skipWithout('java', ['-version']))("Java's HttpClient (java Client.java)", async () => {
    const result = await runClient(['java', join(CLIENTS, 'Client.java')], '/v1/java');
    // The JVM announces JAVA_TOOL_OPTIONS on stderr; nothing else may appear there.
    expect(result.stderr.replace(/^Picked up JAVA_TOOL_OPTIONS: .*\n/m, '')).toBe('');
    expectSubstituted(result, '/v1/java');
  }, 60_000);

  it('git clone over HTTPS with the placeholder in an extra header', async () => {
    const target = join(dir, 'clone-header');
    const before = git.requests.length;
    const result = await veil([
      'run',
      '--secret',
      'GH_TOKEN=GITHUB',
      '--',
      'sh',
      '-c',
      `echo "client-saw GH_TOKEN=$GH_TOKEN"; git -c "http.extraHeader=Authorization: Bearer $GH_TOKEN" clone -q https://${GIT_HOST}:${git.port}/demo.git ${target} && git -C ${target} log --format=%s`,
    ], { GIT_TERMINAL_PROMPT: '0' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`client-saw GH_TOKEN=${gitPlaceholder}\nfirst\n`);
    const requests = git.requests.slice(before);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const request of requests) expect(request.headers.authorization).toBe(`Bearer ${GIT_VALUE}`);
  });

  it('git clone over HTTPS with the placeholder as the Basic auth password in the URL', async () => {
    const target = join(dir, 'clone-basic');
    const before = gitAuth.requests.length;
    const result = await veil([
      'run',
      '--secret',
      'GH_TOKEN=GITHUB',
      '--',
      'sh',
      '-c',
      `git clone -q "https://x-access-token:$GH_TOKEN@${GIT_HOST}:${gitAuth.port}/demo.git" ${target} && git -C ${target} log --format=%s`,
    ], { GIT_TERMINAL_PROMPT: '0' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('first\n');
    const requests = gitAuth.requests.slice(before);
    const authorized = requests.filter((request) => request.headers.authorization !== undefined);
    // git answers the 401 challenge with the URL's credentials; the server saw them substituted.
    expect(authorized.length).toBeGreaterThanOrEqual(2);
    const expected = `Basic ${Buffer.from(`x-access-token:${GIT_VALUE}`).toString('base64')}`;
    for (const request of authorized) expect(request.headers.authorization).toBe(expected);
  });
});

describe('veil run: what the child sees and where values go', () => {
  it('a host not on the allowlist receives the placeholder, not the value', async () => {
    const result = await runClient(['python3', join(CLIENTS, 'urllib_client.py')], '/collect', OTHER_HOST);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`client-saw OPENAI_API_KEY=${placeholder}\n`);
    expect(requestOn(api, '/collect').headers.authorization).toBe(`Bearer ${placeholder}`);
  });

  it('--disallowed block: the proxy refuses a placeholder for a host not on the allowlist', async () => {
    const before = api.requests.length;
    const result = await veil([
      'run',
      '--disallowed',
      'block',
      '--secret',
      'OPENAI_API_KEY=OPENAI',
      '--',
      'sh',
      '-c',
      `curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPENAI_API_KEY" https://${OTHER_HOST}:${api.port}/blocked`,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('403');
    expect(api.requests.length).toBe(before);
  });

  it("honours the proxy settings veil serve reads (here VEIL_PROXY_BODY_MAX_BYTES: 413, nothing forwarded)", async () => {
    const created = await veil(['secrets', 'create', 'OAUTH_BODY', '--host', API_HOST, '--location', 'body'], {}, 'client-secret-for-the-body');
    expect(created.code, created.stderr).toBe(0);
    const before = api.requests.length;
    const result = await veil(
      [
        'run',
        '--secret',
        'CLIENT_SECRET=OAUTH_BODY',
        '--',
        'sh',
        '-c',
        `pad=$(head -c 4096 /dev/zero | tr '\\0' x); curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "client_secret=$CLIENT_SECRET&pad=$pad" https://${API_HOST}:${api.port}/too-big`,
      ],
      { VEIL_PROXY_BODY_MAX_BYTES: '1KiB' },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('413');
    expect(api.requests.length).toBe(before);
  });

  it("the child's env holds placeholders, proxy and trust settings, and no VEIL_* variable or value", async () => {
    const result = await veil(['run', '--secret', 'OPENAI_API_KEY=OPENAI', '--', 'node', '-e', 'process.stdout.write(JSON.stringify(process.env))'], {
      VEIL_API_KEY: '',
      VEIL_PROXY_TOKEN: 'parent-token-not-for-the-child',
      OPENAI_API_KEY: VALUE,
      NODE_OPTIONS: '--max-old-space-size=256',
    });
    expect(result.code).toBe(0);
    const childEnv = JSON.parse(result.stdout) as Record<string, string>;
    expect(childEnv.OPENAI_API_KEY).toBe(placeholder);
    expect(Object.keys(childEnv).filter((name) => name.startsWith('VEIL_'))).toEqual([]);
    expect(result.stdout).not.toContain(VALUE);
    expect(result.stdout).not.toContain('parent-token-not-for-the-child');
    // Sidecar mode: a proxy URL without credentials.
    expect(childEnv.HTTPS_PROXY).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(childEnv.https_proxy).toBe(childEnv.HTTPS_PROXY);
    expect(childEnv.NO_PROXY).toBe('localhost,127.0.0.1,::1');
    expect(childEnv.NODE_OPTIONS).toMatch(/^--max-old-space-size=256 --import=file:\/\/\/.*\/dist\/runtime\/node-proxy-preload\.js$/);
    for (const name of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'AWS_CA_BUNDLE', 'DENO_CERT', 'CARGO_HTTP_CAINFO']) {
      expect(childEnv[name], name).toMatch(/veil-bundle-[0-9a-f]+-[0-9a-f]+\.pem$/);
    }
    expect(childEnv.NODE_EXTRA_CA_CERTS).toMatch(/veil-ca-[0-9a-f]+\.pem$/);
    expect(childEnv.JAVA_TOOL_OPTIONS).toContain('-Djavax.net.ssl.trustStore=');
    expect(childEnv.JAVA_TOOL_OPTIONS).toContain(`-Dhttps.proxyPort=${new URL(childEnv.HTTPS_PROXY!).port}`);
    // The merged bundle holds Veil's CA after the system roots.
    const bundle = readFileSync(childEnv.SSL_CERT_FILE!, 'utf8');
    const caPem = readFileSync(join(dir, 'ca', 'ca.pem'), 'utf8').trim();
    expect(bundle).toContain(caPem.split('\n').slice(1, -1).join('\n'));
  });

  it('no file Veil writes for the child holds a value', () => {
    const trustDir = join(dir, 'data', 'trust');
    const files = readdirSync(trustDir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const content = readFileSync(join(trustDir, file));
      for (const value of [VALUE, GIT_VALUE]) expect(content.includes(value), file).toBe(false);
    }
  });

  it('a mount of an unknown secret fails before the command runs', async () => {
    const result = await veil(['run', '--secret', 'X_KEY=NO_SUCH_SECRET', '--', 'sh', '-c', 'echo ran']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('NO_SUCH_SECRET');
  });

  it('refuses a data dir without Veil data instead of creating one', async () => {
    const missing = join(dir, 'no-data-here');
    const result = await veil(['run', '--', 'true'], { VEIL_DATA_DIR: missing });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no Veil data');
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses to mount a secret over a variable Veil sets', async () => {
    const result = await veil(['run', '--secret', 'HTTPS_PROXY=OPENAI', '--', 'true']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('HTTPS_PROXY');
  });
});

/** Sandboxes left in the store of the test data dir. */
async function sandboxCount(): Promise<number> {
  const repo = await openSqliteRepository(join(dir, 'data', 'veil.db'));
  try {
    const org = await repo.getOrgByName('default');
    return org ? (await repo.listSandboxes(org.id)).length : 0;
  } finally {
    await repo.close();
  }
}

/** Names of the sandboxes in the store of the test data dir. */
async function sandboxNames(): Promise<string[]> {
  const repo = await openSqliteRepository(join(dir, 'data', 'veil.db'));
  try {
    const org = await repo.getOrgByName('default');
    return org ? (await repo.listSandboxes(org.id)).map((sandbox) => sandbox.name) : [];
  } finally {
    await repo.close();
  }
}

describe('veil run: exit status, signals, cleanup', () => {
  it("exits with the child's code and deletes the sandbox", async () => {
    const before = await sandboxCount();
    const result = await veil(['run', '--secret', 'OPENAI_API_KEY=OPENAI', '--', 'sh', '-c', 'exit 7']);
    expect(result.code).toBe(7);
    expect(await sandboxCount()).toBe(before);
  });

  it('exits 127 when the command does not exist', async () => {
    const result = await veil(['run', '--', 'no-such-command-veil-test']);
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('command not found');
  });

  it('also runs without -- when the command follows the options', async () => {
    const result = await veil(['run', '--secret', 'K=OPENAI', 'sh', '-c', 'echo "$K"']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${placeholder}\n`);
  });

  /** `veil run` whose child prints "ready" and then waits (startWaitingRun in support.ts). */
  const startWaitingChild = (script: string) => startWaitingRun(['--secret', 'OPENAI_API_KEY=OPENAI'], script, env);

  it('relays SIGTERM to the child, exits 128+15 and deletes the sandbox', async () => {
    const before = await sandboxCount();
    const run = startWaitingChild('setInterval(() => {}, 1000); console.log("ready")');
    await run.ready;
    expect(await sandboxCount()).toBe(before + 1);
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit).toEqual({ code: 143, signal: null });
    expect(await sandboxCount()).toBe(before);
  });

  it('relays SIGINT (Ctrl-C) to the child; a child that handles it decides the exit code', async () => {
    const before = await sandboxCount();
    const run = startWaitingChild(
      'process.on("SIGINT", () => { console.log("child got SIGINT"); process.exit(5); }); setInterval(() => {}, 1000); console.log("ready")',
    );
    await run.ready;
    run.child.kill('SIGINT');
    const exit = await run.exited;
    expect(run.output().stdout).toContain('child got SIGINT');
    expect(exit).toEqual({ code: 5, signal: null });
    expect(await sandboxCount()).toBe(before);
  });

  it('Ctrl-C on a terminal reaches the child once (not again through the relay), then the sandbox is deleted', async () => {
    // A real controlling terminal: Ctrl-C (\x03) makes the line discipline send SIGINT to the
    // foreground process group (veil and the child).
    // The child counts SIGINTs for a while after the first one, then reports and exits 0.
    const child = 'let n = 0; process.on("SIGINT", () => { if (n++ === 0) setTimeout(() => { console.log("sigints=" + n); process.exit(0); }, 1500); }); setInterval(() => {}, 1000); console.log("ready")';
    const before = await sandboxCount();
    const result = await runOnTerminal([process.execPath, CLI, 'run', '--secret', 'K=OPENAI', '--', 'node', '-e', child], 'ready', '\x03', env);
    expect(result.output).toContain('sigints=1');
    expect(result.code).toBe(0);
    expect(await sandboxCount()).toBe(before);
  });

  it.skipIf(process.platform !== 'linux')('a run killed with SIGKILL leaves its sandbox behind; the next run deletes it, never the sandbox of a live run', async () => {
    const before = await sandboxNames();
    const killed = startWaitingChild('setInterval(() => {}, 1000); console.log("pid=" + process.pid); console.log("ready")');
    let grandchild = 0;
    try {
      await killed.ready;
      grandchild = Number(/pid=(\d+)/.exec(killed.output().stdout)?.[1]);
      const mine = (await sandboxNames()).filter((name) => !before.includes(name));
      expect(mine).toHaveLength(1);
      const name = mine[0]!;
      expect(name).toMatch(new RegExp(`^veil-run-[0-9a-f]{16}-${killed.child.pid}-[0-9]+-[0-9a-f]{8}$`));

      // Another run while this one lives leaves its sandbox alone.
      const alongside = await veil(['run', '--secret', 'K=OPENAI', '--', 'true']);
      expect(alongside.stderr).toBe('');
      expect(alongside.code).toBe(0);
      expect(await sandboxNames()).toContain(name);

      const gone = new Promise((resolve) => killed.child.once('exit', (code, signal) => resolve({ code, signal })));
      killed.child.kill('SIGKILL');
      expect(await gone).toEqual({ code: null, signal: 'SIGKILL' });
      // Its child outlives it (SIGKILL is not relayed); it holds the pipes, so end it too.
      process.kill(grandchild, 'SIGKILL');
      grandchild = 0;
      await killed.exited;
      expect(await sandboxNames()).toContain(name);

      const next = await veil(['run', '--secret', 'K=OPENAI', '--', 'true']);
      expect(next.stderr).toBe('');
      expect(next.code).toBe(0);
      expect((await sandboxNames()).sort()).toEqual([...before].sort());
    } finally {
      killed.child.kill('SIGKILL');
      if (grandchild) {
        try {
          process.kill(grandchild, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('relays SIGHUP', async () => {
    const run = startWaitingChild('process.on("SIGHUP", () => { console.log("child got SIGHUP"); process.exit(0); }); setInterval(() => {}, 1000); console.log("ready")');
    await run.ready;
    run.child.kill('SIGHUP');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output().stdout).toContain('child got SIGHUP');
  });
});

describe('veil secrets, local mode', () => {
  it('lists what create stored in the data dir; refuses a directory without Veil data', async () => {
    const list = await veil(['secrets', 'list', '--json']);
    expect(list.code).toBe(0);
    const names = (JSON.parse(list.stdout) as { name: string; placeholder: string }[]).map((secret) => [secret.name, secret.placeholder]);
    expect(names).toEqual(expect.arrayContaining([['OPENAI', placeholder], ['GITHUB', gitPlaceholder]]));
    const empty = await veil(['secrets', 'list'], { VEIL_DATA_DIR: join(dir, 'no-such-data') });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no Veil data');
  });
});

describe('secret values', () => {
  it('never appear in anything veil printed', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const result of outputs) {
      for (const value of [VALUE, GIT_VALUE]) {
        expect(result.stdout.includes(value)).toBe(false);
        expect(result.stderr.includes(value)).toBe(false);
      }
    }
  });
});
