/** Starts a real control plane on 127.0.0.1:0 with captured logs, and Daytona API clients for it. */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Configuration, SandboxApi, SecretApi } from '@daytonaio/api-client';
import axios, { type AxiosInstance } from 'axios';
import { openControlPlane, type ControlPlane } from '../../src/api/index.js';
import { openRepository } from '../../src/app/repository.js';
import { createLogger } from '../../src/log/logger.js';
import type { Repository } from '../../src/store/types.js';

export interface Harness {
  url: string;
  dataDir: string;
  adminKey: string;
  cp: ControlPlane;
  /** Every log line the server wrote (JSON text). */
  logs: string[];
  /** Every reply body and header block seen by clients made with `client()` or `raw()`. */
  replies: string[];
  close(): Promise<void>;
}

export async function makeDataDir(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), 'veil-api-'));
}

export interface HarnessOptions {
  dataDir?: string;
  adminApiKeyEnv?: string;
  masterKeyEnv?: string;
  /** Another store (e.g. PostgreSQL); the caller closes it. Default: SQLite in dataDir. */
  repository?: Repository;
  /** Interval of the `GET /events` heartbeat; default the production one (15 s). */
  eventsHeartbeatMs?: number;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? (await makeDataDir());
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  // Ours (closed by close()) unless the caller brought one.
  const ownRepository = options.repository ? undefined : await openRepository({ dataDir, databaseUrl: undefined });
  const repository = options.repository ?? ownRepository!;
  let cp: ControlPlane;
  try {
    cp = await openControlPlane({
      dataDir,
      logger,
      masterKeyEnv: options.masterKeyEnv,
      adminApiKeyEnv: options.adminApiKeyEnv,
      repository,
      ...(options.eventsHeartbeatMs !== undefined ? { eventsHeartbeatMs: options.eventsHeartbeatMs } : {}),
    });
  } catch (error) {
    await ownRepository?.close();
    throw error;
  }
  await cp.app.listen({ host: '127.0.0.1', port: 0 });
  const address = cp.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const adminKey =
    options.adminApiKeyEnv ?? cp.bootstrap.generatedAdminApiKey ?? (await fs.readFile(join(dataDir, 'admin-api-key'), 'utf8')).trim();
  const ownsDataDir = options.dataDir === undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    dataDir,
    adminKey,
    cp,
    logs,
    replies: [],
    async close() {
      await cp.close();
      await ownRepository?.close();
      if (ownsDataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** An axios instance that records every reply (body + headers) into `harness.replies`. */
export function recordingAxios(harness: Harness): AxiosInstance {
  const instance = axios.create();
  const record = (data: unknown, headers: unknown) => harness.replies.push(JSON.stringify(data ?? null), JSON.stringify(headers ?? {}));
  instance.interceptors.response.use(
    (response) => {
      record(response.data, response.headers);
      return response;
    },
    (error: unknown) => {
      const response = (error as { response?: { data: unknown; headers: unknown } }).response;
      if (response) record(response.data, response.headers);
      harness.replies.push(String((error as Error).message));
      return Promise.reject(error);
    },
  );
  return instance;
}

export function daytona(harness: Harness, key: string, orgId?: string): { secrets: SecretApi; sandboxes: SandboxApi } {
  const configuration = new Configuration({
    basePath: harness.url,
    accessToken: key,
    ...(orgId ? { baseOptions: { headers: { 'X-Daytona-Organization-ID': orgId } } } : {}),
  });
  const http = recordingAxios(harness);
  // The client's axios types resolve through CJS, ours through ESM: same runtime object.
  const client = http as never;
  return { secrets: new SecretApi(configuration, harness.url, client), sandboxes: new SandboxApi(configuration, harness.url, client) };
}

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Plain fetch for admin routes and malformed requests; records replies too. */
export async function raw(
  harness: Harness,
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? harness.adminKey : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(harness.url + path, { method, headers, body });
  const text = await response.text();
  harness.replies.push(text, JSON.stringify(Object.fromEntries(response.headers)));
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The HTTP status of a rejected axios call (throws if the call succeeded). */
export async function statusOf(promise: Promise<unknown>): Promise<{ status: number; data: any }> {
  try {
    await promise;
  } catch (error) {
    const response = (error as { response?: { status: number; data: unknown } }).response;
    if (response) return { status: response.status, data: response.data };
    throw error;
  }
  throw new Error('expected the request to fail');
}

/** Creates an org and a key in it through the admin API. */
export async function orgWithKey(harness: Harness, name: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<{ orgId: string; key: string }> {
  let org = await raw(harness, 'POST', '/orgs', { body: { name } });
  if (org.status === 409) {
    const list = await raw(harness, 'GET', '/orgs');
    org = { ...list, json: (list.json as Array<{ name: string }>).find((entry) => entry.name === name) };
  } else if (org.status !== 201) throw new Error(`POST /orgs: ${org.status} ${org.text}`);
  const key = await raw(harness, 'POST', '/api-keys', { body: { org: name, scopes, ...extra } });
  if (key.status !== 201) throw new Error(`POST /api-keys: ${key.status} ${key.text}`);
  return { orgId: org.json.id, key: key.json.key };
}
