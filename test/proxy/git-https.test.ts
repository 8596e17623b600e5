/**
 * git over HTTPS through the intercepting proxy, with the token as the password in the remote URL
 * (`https://deploy:PLACEHOLDER@host/repo.git`): git turns it into Basic auth, the proxy decodes,
 * substitutes and re-encodes it. The server (git http-backend behind Node HTTPS) accepts only the
 * real value. Clone and push must work against the allowed host, and fail elsewhere.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitEnv, startGitServer, type GitServer } from '../helpers/git-server.js';
import { assertNoValueLogged, mountExtraSecrets, secret, startFixture, TEST_HOSTNAMES, type Fixture } from '../helpers/proxy-fixture.js';

const TOKEN = 'ghp_REALgitTOKEN-9c8b7a6d5e';
const gitSecret = secret('GIT_TOKEN', TOKEN, ['api.example.com']);

let fx: Fixture;
let server: GitServer;
let env: NodeJS.ProcessEnv;

function proxied(args: string[]): string[] {
  return ['-c', `http.proxy=http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '-c', `http.sslCAInfo=${fx.veilCa.certFile}`, ...args];
}

beforeAll(async () => {
  fx = await startFixture();
  mountExtraSecrets(fx, [gitSecret]);
  server = await startGitServer(fx.upstreamCa.issue([...TEST_HOSTNAMES, '127.0.0.1']), { user: 'deploy', password: TOKEN });
  env = gitEnv();
  // A bare repository with one commit, seeded locally.
  const seed = mkdtempSync(join(tmpdir(), 'veil-git-seed-'));
  expect((await git(['init', '--bare', join(server.root, 'repo.git')], { env })).code).toBe(0);
  expect((await git(['init', seed], { env })).code).toBe(0);
  writeFileSync(join(seed, 'README'), 'hello from the seed\n');
  expect((await git(['add', 'README'], { cwd: seed, env })).code).toBe(0);
  expect((await git(['commit', '-m', 'seed'], { cwd: seed, env })).code).toBe(0);
  expect((await git(['push', join(server.root, 'repo.git'), 'HEAD:main'], { cwd: seed, env })).code).toBe(0);
});
afterAll(async () => {
  assertNoValueLogged(fx);
  for (const line of fx.logs) expect(line).not.toContain(TOKEN);
  await server?.close();
  await fx?.close();
});

describe('git over HTTPS with a placeholder as the password', () => {
  it('clones and pushes against the allowed host; the server only ever sees the real value', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'veil-git-clone-')), 'repo');
    const url = `https://deploy:${gitSecret.placeholder}@api.example.com:${server.port}/repo.git`;
    const clone = await git(proxied(['clone', url, dir]), { env });
    expect(clone.stderr + clone.stdout).not.toContain(TOKEN);
    expect(clone.code, clone.stderr).toBe(0);
    expect(readFileSync(join(dir, 'README'), 'utf8')).toBe('hello from the seed\n');

    writeFileSync(join(dir, 'CHANGE'), 'pushed through veil\n');
    expect((await git(['add', 'CHANGE'], { cwd: dir, env })).code).toBe(0);
    expect((await git(['commit', '-m', 'through the proxy'], { cwd: dir, env })).code).toBe(0);
    const push = await git(proxied(['push', 'origin', 'HEAD:main']), { cwd: dir, env });
    expect(push.stderr + push.stdout).not.toContain(TOKEN);
    expect(push.code, push.stderr).toBe(0);

    const log = await git(['--git-dir', join(server.root, 'repo.git'), 'log', '--format=%s', 'main'], { env });
    expect(log.stdout.trim().split('\n')).toEqual(['through the proxy', 'seed']);
    const real = `Basic ${Buffer.from(`deploy:${TOKEN}`).toString('base64')}`;
    expect(server.authorizations).toContain(real);
    for (const seen of server.authorizations) expect(seen === undefined || seen === real).toBe(true);
  });

  it('fails against a host that is not on the allowlist (the placeholder goes there, not the value)', async () => {
    const before = server.authorizations.length;
    const dir = join(mkdtempSync(join(tmpdir(), 'veil-git-clone-')), 'repo');
    const clone = await git(proxied(['clone', `https://deploy:${gitSecret.placeholder}@other.example.com:${server.port}/repo.git`, dir]), { env });
    expect(clone.code).not.toBe(0);
    const seen = server.authorizations.slice(before).filter((value) => value !== undefined);
    expect(seen).toContain(`Basic ${Buffer.from(`deploy:${gitSecret.placeholder}`).toString('base64')}`);
  });
});
