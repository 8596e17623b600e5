/**
 * Helpers for the distributed tests: `veil serve --no-proxy` replicas on one PostgreSQL schema and
 * stand-alone `veil proxy` processes, all real child processes on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { spawnVeil } from '../helpers/veil-process.js';
import { TEST_DATABASE_URL } from '../store/pg-test-db.js';

export const ADMIN_KEY = `veil-distributed-admin-${randomBytes(16).toString('hex')}`;

/** VEIL_DATABASE_URL for one schema (Veil's `?schema=` parameter). */
export function databaseUrl(schema: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

export interface ReplicaEnv {
  VEIL_DATABASE_URL: string;
  VEIL_MASTER_KEY: string;
  VEIL_ADMIN_API_KEY: string;
}

export function replicaEnv(schema: string): ReplicaEnv {
  return { VEIL_DATABASE_URL: databaseUrl(schema), VEIL_MASTER_KEY: randomBytes(32).toString('base64'), VEIL_ADMIN_API_KEY: ADMIN_KEY };
}

/** A control-plane replica (`veil serve --no-proxy`); `port` fixes the API port (restart tests). */
export function startReplica(env: ReplicaEnv, port = 0): Promise<ServeProcess> {
  return startServeProcess({ env: { ...env }, args: ['--api-listen', `127.0.0.1:${port}`] });
}

export async function call(baseUrl: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers };
}

export interface ProxyProcess {
  proxyUrl: string;
  ready: Record<string, unknown>;
  caCertFile: string;
  stdoutLines: string[];
  stderr(): string;
  /** Resolves with the first stdout line (parsed JSON) matching, polling what arrived; bounded. */
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ProxyProcessOptions {
  args: string[];
  env?: Record<string, string | undefined>;
  /** Shared CA dir (a restarted proxy keeps its CA). Default: a fresh temp dir. */
  caDir?: string;
}

/** `veil proxy ...` as a child process; resolves at its JSON "ready" line. */
export async function startProxyProcess(options: ProxyProcessOptions): Promise<ProxyProcess> {
  const caDir = options.caDir ?? join(makeTempDir('veil-proxy-ca-').path, 'certs');
  const veil = spawnVeil(['proxy', ...options.args], { VEIL_CA_DIR: caDir, ...options.env });
  let ready: Record<string, unknown>;
  try {
    ready = await veil.waitForLine((line) => line.msg === 'ready' && typeof line.proxyUrl === 'string', 60_000);
  } catch (error) {
    await veil.stop('SIGKILL');
    throw error;
  }
  return {
    proxyUrl: String(ready.proxyUrl),
    ready,
    caCertFile: String(ready.caCertFile ?? join(caDir, 'ca.pem')),
    stdoutLines: veil.stdoutLines,
    stderr: veil.stderr,
    waitForLine: veil.waitForLine,
    stop: () => veil.stop(),
  };
}

/** Polls `probe` until it returns true; bounded in count and time (a hang is a failure). */
