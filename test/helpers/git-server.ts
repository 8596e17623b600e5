/**
 * A git smart-HTTP server for tests: `git http-backend` run as CGI behind a small Node HTTPS server
 * on 127.0.0.1. Every request must carry `Authorization: Basic base64(user:password)` equal to the
 * expected credentials (401 with a Basic challenge otherwise), so a test sees exactly what the
 * proxy put in. Also: a git runner with an isolated HOME and no prompts.
 */
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAndCert } from './upstream.js';

export interface GitServer {
  port: number;
  /** Directory holding bare repositories (`<root>/<name>.git`). */
  root: string;
  /** Authorization headers seen, in order (to assert on what arrived). */
  authorizations: (string | undefined)[];
  /** Requests refused with 401. */
  refused: number;
  close(): Promise<void>;
}

/** An isolated environment for git child processes. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'veil-git-home-'));
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Veil Test\n\temail = test@veil.invalid\n[init]\n\tdefaultBranch = main\n');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    LANG: 'C',
    ...extra,
  };
}

export function git(args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function runBackend(root: string, user: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://git.invalid');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    REMOTE_USER: user,
    REMOTE_ADDR: '127.0.0.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    ...(req.headers['content-length'] !== undefined ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
    ...(req.headers['content-encoding'] !== undefined ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
    ...(req.headers['git-protocol'] !== undefined ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
  };
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  req.pipe(child.stdin);
  child.stdin.on('error', () => {});
  let head = Buffer.alloc(0);
  let headDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    headDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.toString('latin1', 0, end).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (!headDone) res.writeHead(500).end();
    else res.end();
  });
}

export async function startGitServer(tls: KeyAndCert, expected: { user: string; password: string }): Promise<GitServer> {
  const root = mkdtempSync(join(tmpdir(), 'veil-git-root-'));
  const expectedHeader = `Basic ${Buffer.from(`${expected.user}:${expected.password}`).toString('base64')}`;
  const authorizations: (string | undefined)[] = [];
  const state = { refused: 0 };
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== expectedHeader) {
      state.refused += 1;
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Length': '0' }).end();
      return;
    }
    runBackend(root, expected.user, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    root,
    authorizations,
    get refused() {
      return state.refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
