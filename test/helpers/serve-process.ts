/**
 * `veil serve` as a real child process: starts it, waits for the JSON "ready" line on stdout and
 * hands back the URLs, the admin key and a stop(). Reusable for proxy tests: pass `proxy: true`
 * (the default is --no-proxy) and any extra args/env.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp-dir.js';
import { spawnVeil, type ExitStatus } from './veil-process.js';

export interface ReadyLine {
  msg: 'ready';
  apiUrl: string;
  proxyUrl?: string;
  [field: string]: unknown;
}

export interface ServeProcessOptions {
  /** Reuse a data directory (restart tests); default: a fresh temp dir removed by stop(). */
  dataDir?: string;
  /** Start the egress proxy on 127.0.0.1:0 too (default false: --no-proxy). */
  proxy?: boolean;
  /** Extra CLI args after `serve ...`. */
  args?: string[];
  /** Extra env (VEIL_* from the parent are never inherited). */
  env?: Record<string, string | undefined>;
  /** Flags for node itself (before the CLI path), e.g. `--trace-gc`. */
  nodeArgs?: string[];
  /** How long to wait for the ready line. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface ServeProcess {
  ready: ReadyLine;
  apiUrl: string;
  proxyUrl: string | undefined;
  dataDir: string;
  /** The bootstrap admin key: `<dataDir>/admin-api-key`, or VEIL_ADMIN_API_KEY when given. */
  adminApiKey: string;
  child: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  stdoutLines: string[];
  /** stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 15 s). Removes a temp data dir unless keepDataDir. */
  stop(options?: { signal?: NodeJS.Signals; keepDataDir?: boolean }): Promise<ExitStatus>;
}

export async function startServeProcess(options: ServeProcessOptions = {}): Promise<ServeProcess> {
  const temp = options.dataDir ? undefined : makeTempDir('veil-serve-');
  const dataDir = options.dataDir ?? temp!.path;
  const args = ['serve', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0'];
  args.push(...(options.proxy ? ['--proxy-listen', '127.0.0.1:0'] : ['--no-proxy']), ...(options.args ?? []));
  const veil = spawnVeil(args, { VEIL_CA_DIR: join(dataDir, 'certs'), ...options.env }, options.nodeArgs);

  let ready: ReadyLine;
  try {
    ready = (await veil.waitForLine((line) => line.msg === 'ready' && typeof line.apiUrl === 'string', options.readyTimeoutMs ?? 60_000)) as ReadyLine;
  } catch (error) {
    await veil.stop('SIGKILL');
    temp?.remove();
    throw error;
  }

  const keyFile = join(dataDir, 'admin-api-key');
  const adminApiKey = options.env?.VEIL_ADMIN_API_KEY ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '');

  return {
    ready,
    apiUrl: ready.apiUrl,
    proxyUrl: ready.proxyUrl,
    dataDir,
    adminApiKey,
    child: veil.child,
    stdoutLines: veil.stdoutLines,
    stderr: veil.stderr,
    async stop(stopOptions = {}) {
      const result = await veil.stop(stopOptions.signal);
      if (temp && !stopOptions.keepDataDir) temp.remove();
      return result;
    },
  };
}

export interface ApiReply {
  status: number;
  /** The parsed JSON body (undefined when empty). */
  json: any;
}

/** A call to a serve process's HTTP API with its bootstrap admin key (JSON in, JSON out). */
export async function adminApi(veil: Pick<ServeProcess, 'apiUrl' | 'adminApiKey'>, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const response = await fetch(`${veil.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${veil.adminApiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}
