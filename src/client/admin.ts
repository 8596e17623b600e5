import { encodeSegment, HttpClient, type ClientOptions } from './http.js';
import type { ApiKey, ApiKeyInfo, CreateApiKeyParams, Org } from './types.js';

/** Organizations (scope `admin`). */
export class OrgService {
  private readonly http: HttpClient;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  create(name: string): Promise<Org> {
    return this.http.request<Org>('POST', '/orgs', { name });
  }

  list(): Promise<Org[]> {
    return this.http.request<Org[]>('GET', '/orgs');
  }
}

/** API keys (scope `admin`). The key string is in the create reply only. */
export class ApiKeyService {
  private readonly http: HttpClient;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  create(params: CreateApiKeyParams): Promise<ApiKey> {
    return this.http.request<ApiKey>('POST', '/api-keys', params);
  }

  /** Keys of `org` (name or id); without it, the caller's org (every org for the instance admin). */
  list(org?: string): Promise<ApiKeyInfo[]> {
    return this.http.request<ApiKeyInfo[]>('GET', '/api-keys', undefined, { org });
  }

  /** Revokes a key at once (its open event streams end at their next heartbeat). */
  async revoke(id: string): Promise<void> {
    await this.http.request<void>('DELETE', `/api-keys/${encodeSegment(id)}`);
  }
}
