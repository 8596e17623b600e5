/**
 * RemoteResolver: how a stand-alone proxy (`veil proxy`) learns a sandbox's secrets from a control
 * plane: `GET /sandbox/{id}/secrets` with a `proxy:resolve` API key.
 *
 * 404 means the sandbox does not exist (for this key): null. Every other failure (refused connection,
 * timeout, 5xx, 401/403, a malformed reply) rejects, so the mapping cache serves its stale copy
 * within its bound and then fails closed (503). Error messages name the status or cause only: the
 * reply body carries values and is never quoted.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { isUuid } from '../ids.js';
import type { SecretLocation } from '../store/types.js';
import { ORG_ID_HEADER, PROXY_TOKEN_HASH_HEADER, type ResolvedSecret, type SandboxSecrets, type SecretResolver } from './types.js';

export class ControlPlaneUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlPlaneUrlError';
  }
}

/** True for loopback hosts: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Checks a control-plane base URL: https, or http to a loopback address only (development). The
 * proxy sends its API key and receives secret values over this connection.
 */
export function checkControlPlaneUrl(setting: string, input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ControlPlaneUrlError(`${setting}: expected an https:// URL of the control plane`);
  }
  if (url.username || url.password) throw new ControlPlaneUrlError(`${setting}: credentials do not belong in the URL; use --api-key / VEIL_API_KEY`);
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      throw new ControlPlaneUrlError(
        `${setting}: plain http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); ` +
          `use https:// for ${url.hostname} (the proxy's API key and the secret values travel over this connection)`,
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new ControlPlaneUrlError(`${setting}: expected an https:// URL, got scheme "${url.protocol.replace(/:$/, '')}"`);
  }
  if (url.search || url.hash) throw new ControlPlaneUrlError(`${setting}: expected a base URL without query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export interface ControlPlaneTransportOptions {
  /** Extra PEM bundle trusted for the control plane's certificate, on top of the system roots. */
  caFile?: string | undefined;
  /** TCP + TLS connect timeout. Default 5 s. */
  connectTimeoutMs?: number;
}

/** A keep-alive undici Agent for the control plane; certificate verification is always on. */
export function createControlPlaneAgent(options: ControlPlaneTransportOptions = {}): Agent {
  const ca = [...rootCertificates];
  if (options.caFile) ca.push(readFileSync(options.caFile, 'utf8'));
  const connectTimeout = options.connectTimeoutMs ?? 5_000;
  return new Agent({
    connect: { ca, rejectUnauthorized: true, timeout: connectTimeout, noDelay: true },
    connectTimeout,
    keepAliveTimeout: 10_000,
  });
}

export interface RemoteResolverOptions {
  /** Base URL of the control plane (checked with checkControlPlaneUrl). */
  baseUrl: string;
  /** An API key with the proxy:resolve scope. */
  apiKey: string;
  dispatcher: Dispatcher;
  /** Whole request (head and body). Default 5 s. */
  timeoutMs?: number;
}

export class RemoteResolver implements SecretResolver {
  private readonly timeoutMs: number;

  constructor(private readonly options: RemoteResolverOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async resolve(sandboxId: string): Promise<SandboxSecrets | null> {
    // The proxy passes the id a client claimed: never put anything but a UUID into the path.
    if (!isUuid(sandboxId)) return null;
    const id = sandboxId.toLowerCase();
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.options.baseUrl}/sandbox/${id}/secrets`, {
        method: 'GET',
        dispatcher: this.options.dispatcher,
        headers: { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' },
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (error) {
      throw new Error(`control plane unreachable: ${describe(error)}`);
    }
    const { statusCode, headers, body } = response;
    if (statusCode === 404) {
      await body.dump().catch(() => undefined);
      return null;
    }
    if (statusCode !== 200) {
      await body.dump().catch(() => undefined);
      throw new Error(`control plane answered HTTP ${statusCode} to a secret lookup${statusCode === 401 || statusCode === 403 ? ' (check the API key and its proxy:resolve scope)' : ''}`);
    }
    let data: unknown;
    try {
      data = await body.json();
    } catch (error) {
      throw new Error(`control plane reply could not be read: ${describe(error)}`);
    }
    const tokenHash = headerValue(headers[PROXY_TOKEN_HASH_HEADER]);
    const orgId = headerValue(headers[ORG_ID_HEADER]);
    if (!tokenHash || !/^[0-9a-f]{64}$/.test(tokenHash)) throw new Error(`control plane reply lacks a valid ${PROXY_TOKEN_HASH_HEADER} header`);
    if (!orgId) throw new Error(`control plane reply lacks the ${ORG_ID_HEADER} header (control plane too old for veil proxy?)`);
    return { sandboxId: id, orgId, proxyTokenHash: tokenHash, secrets: parseSecrets(data) };
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Validates the reply's shape; errors say which field is wrong, never what it held. */
function parseSecrets(data: unknown): ResolvedSecret[] {
  if (!Array.isArray(data)) throw new Error('control plane reply is not a list of secrets');
  return data.map((item, index) => {
    const bad = (field: string) => new Error(`control plane reply: secret #${index} has no valid "${field}"`);
    if (typeof item !== 'object' || item === null) throw bad('object');
    const entry = item as Record<string, unknown>;
    for (const field of ['env', 'name', 'placeholder', 'value'] as const) {
      if (typeof entry[field] !== 'string') throw bad(field);
    }
    const strings = (field: string): string[] => {
      const list = entry[field];
      if (!Array.isArray(list) || !list.every((value) => typeof value === 'string')) throw bad(field);
      return list as string[];
    };
    return {
      // The reply has no secret id; the name is unique per org and stable for the cache's purposes.
      secretId: entry.name as string,
      name: entry.name as string,
      env: entry.env as string,
      placeholder: entry.placeholder as string,
      value: entry.value as string,
      hosts: strings('hosts'),
      locations: strings('locations') as SecretLocation[],
    };
  });
}

/** A cause for an error message: the error's code or message (undici's never carry a body). */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
    if (typeof code === 'string') return code;
    if (cause && typeof cause.code === 'string') return cause.code;
    return error.message;
  }
  return String(error);
}
