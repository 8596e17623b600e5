/**
 * The `veil` CLI end to end: a real `veil serve` child process, the CLI as child processes, and the
 * values checked through the resolve endpoint (what a proxy would receive).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SandboxService } from '../../src/client/index.js';
import { runCli, type CliResult, type RunCliOptions } from '../helpers/cli.js';
import { closedPort } from '../helpers/ports.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// Every step spawns real processes; on a loaded 2-core machine they can be slow. Hangs still fail.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PLACEHOLDER = /^veil_[A-Za-z0-9]{32}$/;
// Distinctive values so a leak anywhere is unambiguous.
const STDIN_VALUE = 'sk-stdin-Zq7xW3rT9pLm2VbN8cKd';
const FILE_VALUE = 'file-value-H4sJ9kQ2wE6rT1yU\nsecond-line-P0oI9uY8';
const ROTATED_VALUE = 'rotated-Mn5Bv4Cx3Zl2Kj1Hg0Fd';
const VALUES = [STDIN_VALUE, FILE_VALUE, 'second-line-P0oI9uY8', ROTATED_VALUE];

let server: ServeProcess;
const temp = makeTempDir('veil-cli-test-');
const outputs: CliResult[] = [];

/** Runs the CLI against the server with the admin key unless overridden; records output for the leak check. */
async function veil(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const result = await runCli(args, { ...options, env: { VEIL_API_URL: server.apiUrl, VEIL_API_KEY: server.adminApiKey, ...options.env } });
  outputs.push(result);
  return result;
}

function ok(result: CliResult): CliResult {
  expect(result.stderr === '' || result.code === 0 ? result.code : `${result.code}: ${result.stderr}`).toBe(0);
  return result;
}

const lastLine = (text: string): string => text.trimEnd().split('\n').at(-1)!;

/** A key with proxy:resolve for the default org, to read back what the proxy would get. */
let resolveKey: string;
async function resolvedValues(sandboxId: string): Promise<Record<string, string>> {
  const secrets = await new SandboxService({ apiUrl: server.apiUrl, apiKey: resolveKey }).resolve(sandboxId);
  return Object.fromEntries(secrets.map((secret) => [secret.env, secret.value]));
}

beforeAll(async () => {
  server = await startServeProcess();
  expect(server.adminApiKey).toMatch(/^veil_key_/);
  resolveKey = lastLine(ok(await veil(['keys', 'create', '--org', 'default', '--scopes', 'proxy:resolve', '--name', 'test-resolver'])).stdout);
});

afterAll(async () => {
  await server?.stop();
  temp.remove();
});

describe('usage', () => {
  it('prints help and version', async () => {
    const help = ok(await runCli(['--help']));
    for (const command of ['serve', 'secrets', 'sandboxes', 'orgs', 'keys']) expect(help.stdout).toContain(command);
    expect(ok(await runCli(['secrets', '--help'])).stdout).toContain('--value-file');
    expect(ok(await runCli(['keys', 'create', '--help'])).stdout).toContain('--scopes');
    expect(ok(await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on usage errors with a clear message', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], 'unknown command'],
      [['secrets', 'list', '--bogus'], '--bogus'],
      [['secrets', 'get'], 'expected <idOrName>'],
      [['secrets', 'create', 'X', '--location', 'cookie'], '--location'],
      [['sandboxes', 'create', '--secret', 'NOEQUALS'], 'ENV=secretName'],
      [['keys', 'create', '--org', 'default', '--scopes', 'root'], 'unknown scope'],
      [['serve', '--api-listen', 'x'], '--api-listen: expected host:port, got "x"'],
      [[], 'Usage'],
      [['secrets'], 'Usage: veil secrets'],
      [['ca'], 'Usage: veil ca'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { env: { VEIL_API_URL: server.apiUrl, VEIL_API_KEY: server.adminApiKey } });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });

  it('has no way to pass a value on the command line', async () => {
    const result = await veil(['secrets', 'create', 'ARGV', '--value', STDIN_VALUE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown option '--value'");
    // --value=... is refused without quoting the value back.
    const inline = await veil(['secrets', 'create', 'ARGV', `--value=${STDIN_VALUE}`]);
    expect(inline.code).toBe(2);
    expect(inline.stderr).toContain("Unknown option '--value'");
    // And the argument is not taken as a positional value either.
    expect((await veil(['secrets', 'create', 'ARGV', STDIN_VALUE])).code).toBe(2);
  });

  it('needs VEIL_API_URL and VEIL_API_KEY for client commands', async () => {
    expect((await runCli(['secrets', 'list'])).code).toBe(2);
    expect((await runCli(['secrets', 'list'], { env: { VEIL_API_URL: server.apiUrl } })).stderr).toContain('VEIL_API_KEY');
  });

  it('exits 1 with the API message on API errors', async () => {
    const unauthorized = await veil(['secrets', 'list'], { env: { VEIL_API_KEY: `veil_key_${'0'.repeat(32)}_${'A'.repeat(43)}` } });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain('401');
    const missing = await veil(['secrets', 'get', 'NO_SUCH_SECRET']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  });

  it('exits 1 when the API cannot be reached', async () => {
    const result = await runCli(['secrets', 'list'], { env: { VEIL_API_URL: `http://127.0.0.1:${await closedPort()}`, VEIL_API_KEY: server.adminApiKey } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach the Veil API');
    expect(result.stderr).toContain('ECONNREFUSED');
  });
});

describe('secrets and sandboxes', () => {
  let stdinSecret: { id: string; placeholder: string };
  let sandboxId: string;

  it('creates a secret with the value from stdin (one trailing newline stripped)', async () => {
    const result = ok(await veil(['secrets', 'create', 'OPENAI', '--host', 'api.openai.com', '--description', 'test key', '--json'], { input: `${STDIN_VALUE}\n` }));
    stdinSecret = JSON.parse(result.stdout);
    expect(stdinSecret).toMatchObject({ name: 'OPENAI', hosts: ['api.openai.com'], description: 'test key', locations: ['header', 'url'] });
    expect(stdinSecret.id).toMatch(UUID);
    expect(stdinSecret.placeholder).toMatch(PLACEHOLDER);
  });

  it('creates a secret from --value-file, keeping inner newlines', async () => {
    const file = join(temp.path, 'value.txt');
    writeFileSync(file, `${FILE_VALUE}\n`, { mode: 0o600 });
    const result = ok(await veil(['secrets', 'create', 'MULTI', '--value-file', file, '--host', 'a.example.com,*.b.example.com', '--location', 'header', '--location', 'body']));
    expect(result.stdout).toMatch(/placeholder:\s+veil_[A-Za-z0-9]{32}/);
    expect(result.stdout).toContain('a.example.com,*.b.example.com');
    expect(result.stdout).toContain('header,body');
  });

  it('refuses an empty value and a missing file', async () => {
    const empty = await veil(['secrets', 'create', 'EMPTY']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('empty');
    const missing = await veil(['secrets', 'create', 'NOFILE', '--value-file', join(temp.path, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });

  it('reports a duplicate name as an API error', async () => {
    const result = await veil(['secrets', 'create', 'OPENAI'], { input: 'other' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('409');
  });

  it('lists and gets secrets by name and by id', async () => {
    const table = ok(await veil(['secrets', 'list'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^NAME\s+ID\s+PLACEHOLDER\s+HOSTS\s+LOCATIONS$/);
    expect(table).toContain(stdinSecret.placeholder);
    expect(table).toContain('MULTI');
    const list = JSON.parse(ok(await veil(['secrets', 'list', '--json'])).stdout) as { name: string }[];
    expect(list.map((secret) => secret.name).sort()).toEqual(['MULTI', 'OPENAI']);
    const byName = JSON.parse(ok(await veil(['secrets', 'get', 'OPENAI', '--json'])).stdout);
    const byId = JSON.parse(ok(await veil(['secrets', 'get', stdinSecret.id, '--json'])).stdout);
    expect(byName).toEqual(byId);
    expect(byName).not.toHaveProperty('value');
  });

  it('creates a sandbox mounting the secrets; the resolver sees the exact values', async () => {
    const result = ok(await veil(['sandboxes', 'create', '--name', 'agent-1', '--secret', 'OPENAI_API_KEY=OPENAI', '--secret', 'MULTI=MULTI', '--json']));
    const sandbox = JSON.parse(result.stdout);
    sandboxId = sandbox.id;
    expect(sandbox.id).toMatch(UUID);
    expect(sandbox.name).toBe('agent-1');
    expect(sandbox.env.OPENAI_API_KEY).toBe(stdinSecret.placeholder);
    expect(sandbox.env.MULTI).toMatch(PLACEHOLDER);
    expect(typeof sandbox.proxyToken).toBe('string');
    expect(await resolvedValues(sandboxId)).toEqual({ OPENAI_API_KEY: STDIN_VALUE, MULTI: FILE_VALUE });
  });

  it('updates metadata and rotates the value (from stdin via --value-file -) keeping the placeholder', async () => {
    const renamed = JSON.parse(ok(await veil(['secrets', 'update', 'OPENAI', '--host', 'api.openai.com,*.openai.azure.com', '--json'])).stdout);
    expect(renamed.hosts).toEqual(['api.openai.com', '*.openai.azure.com']);
    expect(await resolvedValues(sandboxId)).toMatchObject({ OPENAI_API_KEY: STDIN_VALUE });
    const rotated = JSON.parse(ok(await veil(['secrets', 'update', stdinSecret.id, '--value-file', '-', '--json'], { input: `${ROTATED_VALUE}\r\n` })).stdout);
    expect(rotated.placeholder).toBe(stdinSecret.placeholder);
    expect(await resolvedValues(sandboxId)).toMatchObject({ OPENAI_API_KEY: ROTATED_VALUE });
    const nothing = await veil(['secrets', 'update', 'OPENAI']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to change');
  });

  it('shows, lists and remounts sandboxes', async () => {
    const shown = ok(await veil(['sandboxes', 'get', sandboxId])).stdout;
    expect(shown).toContain('agent-1');
    expect(shown).toContain(`OPENAI_API_KEY=${stdinSecret.placeholder}`);
    expect(shown).not.toContain('proxy token');
    expect(ok(await veil(['sandboxes', 'list'])).stdout).toContain(sandboxId);
    const remounted = JSON.parse(ok(await veil(['sandboxes', 'mount', 'agent-1', '--secret', 'KEY=OPENAI', '--json'])).stdout);
    expect(Object.keys(remounted.env)).toEqual(['KEY']);
    expect(await resolvedValues(sandboxId)).toEqual({ KEY: ROTATED_VALUE });
    const badMount = await veil(['sandboxes', 'mount', sandboxId, '--secret', 'KEY=NO_SUCH']);
    expect(badMount.code).toBe(1);
  });

  it('deletes secrets and sandboxes', async () => {
    ok(await veil(['secrets', 'delete', 'MULTI']));
    expect((await veil(['secrets', 'get', 'MULTI'])).code).toBe(1);
    ok(await veil(['sandboxes', 'delete', sandboxId]));
    const gone = await veil(['sandboxes', 'get', sandboxId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('404');
  });
});

describe('orgs and keys', () => {
  it('creates an org and a key over the API; the key sees only its org', async () => {
    const created = ok(await veil(['orgs', 'create', 'acme']));
    const orgId = lastLine(created.stdout);
    expect(orgId).toMatch(UUID);
    expect(ok(await veil(['orgs', 'list'])).stdout).toContain('acme');
    const key = lastLine(ok(await veil(['keys', 'create', '--org', 'acme', '--scopes', 'secrets:read,secrets:write', '--name', 'ci'])).stdout);
    expect(key).toMatch(/^veil_key_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);

    const asAcme = { env: { VEIL_API_KEY: key } };
    expect(ok(await veil(['secrets', 'list', '--json'], asAcme)).stdout.trim()).toBe('[]');
    ok(await veil(['secrets', 'create', 'ACME_ONLY', '--host', 'acme.example'], { ...asAcme, input: 'acme-value' }));
    // The default org's admin does not see acme's secret, and acme cannot reach the default org's.
    expect((await veil(['secrets', 'get', 'ACME_ONLY'])).code).toBe(1);
    expect((await veil(['secrets', 'get', 'OPENAI'], asAcme)).code).toBe(1);
    // Scopes are enforced: this key cannot create sandboxes.
    const forbidden = await veil(['sandboxes', 'list'], asAcme);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('403');
    // --org by id works too.
    expect(lastLine(ok(await veil(['keys', 'create', '--org', orgId, '--scopes', 'sandboxes:write'])).stdout)).toMatch(/^veil_key_/);
  });

  it('works directly on the data directory while the server runs', async () => {
    const direct = { env: { VEIL_API_URL: undefined, VEIL_API_KEY: undefined, VEIL_DATA_DIR: server.dataDir } };
    const orgId = lastLine(ok(await runCli(['orgs', 'create', 'direct-org'], direct)).stdout);
    expect(orgId).toMatch(UUID);
    const orgs = JSON.parse(ok(await runCli(['orgs', 'list', '--json'], direct)).stdout) as { name: string; id: string }[];
    expect(orgs.find((org) => org.name === 'direct-org')?.id).toBe(orgId);
    const key = lastLine(ok(await runCli(['keys', 'create', '--org', 'direct-org', '--scopes', 'secrets:read'], direct)).stdout);
    // The running server accepts the key written next to it.
    expect(ok(await veil(['secrets', 'list', '--json'], { env: { VEIL_API_KEY: key } })).stdout.trim()).toBe('[]');
    // --data-dir wins over VEIL_API_URL.
    const viaFlag = ok(await veil(['orgs', 'list', '--data-dir', server.dataDir, '--json'], { env: { VEIL_API_KEY: 'not-used' } }));
    expect(viaFlag.stdout).toContain('direct-org');
  });

  it('refuses a data directory that holds no Veil data', async () => {
    const result = await runCli(['orgs', 'list'], { env: { VEIL_DATA_DIR: join(temp.path, 'empty') } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no Veil data');
  });

  it('--data-dir selects local mode for every command that has it, even with VEIL_API_URL set', async () => {
    const empty = join(temp.path, 'empty');
    for (const args of [
      ['orgs', 'list', '--data-dir', empty],
      ['keys', 'create', '--org', 'default', '--scopes', 'secrets:read', '--data-dir', empty],
      ['secrets', 'list', '--data-dir', empty],
      ['env', '--sandbox', 'some-box', '--data-dir', empty],
      ['run', '--data-dir', empty, '--secret', 'K=NAME', '--', 'true'],
    ]) {
      // The API URL points at the running server: only local mode reports the empty directory.
      const result = await veil(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain('no Veil data');
    }
  });
});

describe('secret values', () => {
  it('never appear in any CLI output or server log', () => {
    expect(outputs.length).toBeGreaterThan(20);
    const everything = [...outputs.flatMap((result) => [result.stdout, result.stderr]), ...server.stdoutLines, server.stderr()].join('\n');
    for (const value of VALUES) {
      const leaks = [...outputs.map((result, index) => ({ index, text: result.stdout + result.stderr })), { index: -1, text: everything }].filter(({ text }) =>
        text.includes(value),
      );
      expect(leaks.map(({ index }) => index)).toEqual([]);
    }
  });
});
