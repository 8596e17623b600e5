import { encodeSegment, HttpClient, VeilApiError, type ClientOptions } from './http.js';
import type { CreateSecretParams, ListSecretsResponse, Secret, SecretPageQuery, UpdateSecretParams } from './types.js';

// Same pattern as src/ids.ts, kept here so the client has no runtime import outside src/client.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_LIMIT = 100;
/** Bound on pages walked by a name lookup, so a misbehaving server cannot loop us forever. */
const MAX_LOOKUP_PAGES = 1000;

/**
 * Organization-scoped secrets, shaped like Daytona SDK's SecretService. Values are write-only:
 * `create`/`update` send them, nothing ever returns them.
 */
export class SecretService {
  private readonly http: HttpClient;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  /** All secrets of the organization. */
  list(): Promise<Secret[]> {
    return this.http.request<Secret[]>('GET', '/secret');
  }

  /** One page, keyset-paginated; pass `nextCursor` back as `cursor` for the next one. */
  page(query: SecretPageQuery = {}): Promise<ListSecretsResponse> {
    return this.http.request<ListSecretsResponse>('GET', '/secret/paginated', undefined, { ...query });
  }

  /** By id, or by exact name when no secret has that id. */
  async get(idOrName: string): Promise<Secret> {
    if (UUID.test(idOrName)) {
      try {
        return await this.http.request<Secret>('GET', `/secret/${encodeSegment(idOrName)}`);
      } catch (error) {
        if (!(error instanceof VeilApiError) || error.statusCode !== 404) throw error;
      }
    }
    const found = await this.findByName(idOrName);
    if (!found) throw new VeilApiError(404, `secret "${idOrName}" not found`, 'Not Found');
    return found;
  }

  /** Exact (case-sensitive) name match, or null. */
  async findByName(name: string): Promise<Secret | null> {
    let cursor: string | undefined;
    for (let pages = 0; pages < MAX_LOOKUP_PAGES; pages++) {
      const page = await this.page({ name, limit: PAGE_LIMIT, sort: 'name', order: 'asc', ...(cursor ? { cursor } : {}) });
      const match = page.items.find((secret) => secret.name === name);
      if (match) return match;
      if (!page.nextCursor || page.items.length === 0) return null;
      cursor = page.nextCursor;
    }
    return null;
  }

  create(params: CreateSecretParams): Promise<Secret> {
    return this.http.request<Secret>('POST', '/secret', params);
  }

  async update(idOrName: string, params: UpdateSecretParams): Promise<Secret> {
    const id = await this.resolveId(idOrName);
    return this.http.request<Secret>('PATCH', `/secret/${encodeSegment(id)}`, params);
  }

  async delete(idOrName: string): Promise<void> {
    const id = await this.resolveId(idOrName);
    await this.http.request<void>('DELETE', `/secret/${encodeSegment(id)}`);
  }

  private async resolveId(idOrName: string): Promise<string> {
    return UUID.test(idOrName) ? idOrName : (await this.get(idOrName)).id;
  }
}
