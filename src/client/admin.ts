import { HttpClient, type ClientOptions } from './http.js';
import type { ApiKey, CreateApiKeyParams, Org } from './types.js';

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
}
