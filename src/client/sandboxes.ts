import { encodeSegment, HttpClient, type ClientOptions } from './http.js';
import type { CreateSandboxParams, ResolvedSandboxSecret, Sandbox, SecretMounts } from './types.js';

/** `{A: x, B: y}` -> `[{A: x}, {B: y}]` (Daytona's wire shape); arrays pass through. */
export function toMountList(secrets: SecretMounts | Record<string, string>): SecretMounts {
  return Array.isArray(secrets) ? secrets : Object.entries(secrets).map(([env, name]) => ({ [env]: name }));
}

/** Sandboxes: consumers that mount secrets as env vars holding placeholders. */
export class SandboxService {
  private readonly http: HttpClient;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  /** The reply carries `proxyToken` once: keep it, it is the sandbox's proxy credential. */
  create(params: CreateSandboxParams = {}): Promise<Sandbox> {
    const body: Record<string, unknown> = {};
    if (params.name !== undefined) body.name = params.name;
    body.secrets = toMountList(params.secrets ?? []);
    return this.http.request<Sandbox>('POST', '/sandbox', body);
  }

  get(id: string): Promise<Sandbox> {
    return this.http.request<Sandbox>('GET', `/sandbox/${encodeSegment(id)}`);
  }

  list(): Promise<Sandbox[]> {
    return this.http.request<Sandbox[]>('GET', '/sandbox');
  }

  async delete(id: string): Promise<void> {
    await this.http.request<void>('DELETE', `/sandbox/${encodeSegment(id)}`);
  }

  /** Replaces the sandbox's mounts. */
  updateSecrets(idOrName: string, secrets: SecretMounts | Record<string, string>): Promise<Sandbox> {
    return this.http.request<Sandbox>('PUT', `/sandbox/${encodeSegment(idOrName)}/secrets`, { secrets: toMountList(secrets) });
  }

  /** Real values of the sandbox's secrets; needs the `proxy:resolve` scope. */
  resolve(id: string): Promise<ResolvedSandboxSecret[]> {
    return this.http.request<ResolvedSandboxSecret[]>('GET', `/sandbox/${encodeSegment(id)}/secrets`);
  }
}
