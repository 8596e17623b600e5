/** Secrets: validation, envelope encryption, placeholders, change events. */
import { randomUUID } from 'node:crypto';
import { encryptValue } from '../crypto/envelope.js';
import { generatePlaceholder } from '../crypto/tokens.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import type { ChangeFeed } from '../events/types.js';
import { isUuid } from '../ids.js';
import type { Repository, SecretPatch, SecretRecord, SecretSortField, SortOrder } from '../store/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import {
  asObject,
  validateDescription,
  validateHosts,
  validateLocations,
  validateSecretName,
  validateSecretValue,
} from './validation.js';
import { secretView, type SecretView } from './views.js';

export const PAGE_LIMIT_DEFAULT = 100;
export const PAGE_LIMIT_MAX = 200;

export interface SecretPageInput {
  cursor?: unknown;
  limit?: unknown;
  name?: unknown;
  sort?: unknown;
  order?: unknown;
}

export interface SecretPageView {
  items: SecretView[];
  total: number;
  nextCursor: string | null;
}

export class SecretsService {
  constructor(
    private readonly repo: Repository,
    private readonly masterKey: Buffer,
    private readonly feed: ChangeFeed,
  ) {}

  async create(orgId: string, body: unknown): Promise<SecretView> {
    const input = asObject(body);
    const name = validateSecretName(input.name);
    const value = validateSecretValue(input.value);
    const description = validateDescription(input.description);
    const hosts = validateHosts(input.hosts);
    const locations = validateLocations(input.locations);
    const now = new Date();
    // A placeholder collision (~2^-190) would surface as a conflict: retry with a fresh one.
    for (let attempt = 0; ; attempt++) {
      const id = randomUUID();
      const record: SecretRecord = {
        id,
        orgId,
        name,
        description,
        placeholder: generatePlaceholder(),
        hosts,
        locations,
        encryptedValue: encryptValue(this.masterKey, { orgId, secretId: id }, value),
        createdAt: now,
        updatedAt: now,
      };
      try {
        return secretView(await this.repo.createSecret(record));
      } catch (error) {
        if (error instanceof ConflictError && error.message.includes('placeholder') && attempt < 2) continue;
        throw error;
      }
    }
  }

  async get(orgId: string, id: string): Promise<SecretView> {
    return secretView(await this.requireRecord(orgId, id));
  }

  async list(orgId: string): Promise<SecretView[]> {
    return (await this.repo.listSecrets(orgId)).map(secretView);
  }

  async page(orgId: string, query: SecretPageInput): Promise<SecretPageView> {
    const limit = parseLimit(query.limit);
    let sort = parseSort(query.sort);
    let order = parseOrder(query.order);
    const name = query.name === undefined || query.name === '' ? undefined : String(query.name);
    if (name !== undefined && name.length > 256) throw new BadRequestError('name filter must be at most 256 characters');
    let after;
    if (query.cursor !== undefined && query.cursor !== '') {
      const cursor = decodeCursor(String(query.cursor));
      if ((sort && sort !== cursor.sort) || (order && order !== cursor.order)) {
        throw new BadRequestError('cursor was issued for a different sort/order; start again without a cursor');
      }
      sort = cursor.sort;
      order = cursor.order;
      after = cursor.after;
    }
    const effectiveSort: SecretSortField = sort ?? 'createdAt';
    const effectiveOrder: SortOrder = order ?? 'asc';
    // One extra row tells whether another page exists without a second query.
    const page = await this.repo.pageSecrets({ orgId, limit: limit + 1, sort: effectiveSort, order: effectiveOrder, nameContains: name, after });
    const items = page.items.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      page.items.length > limit && last
        ? encodeCursor({ value: effectiveSort === 'name' ? last.name : last[effectiveSort].getTime(), id: last.id }, effectiveSort, effectiveOrder)
        : null;
    return { items: items.map(secretView), total: page.total, nextCursor };
  }

  /** Partial update: omitted fields stay; a new value keeps the placeholder, fresh data key. */
  async update(orgId: string, id: string, body: unknown): Promise<SecretView> {
    const input = asObject(body);
    const existing = await this.requireRecord(orgId, id);
    const patch: SecretPatch = { updatedAt: new Date() };
    if (input.name !== undefined) patch.name = validateSecretName(input.name);
    if (input.value !== undefined) patch.encryptedValue = encryptValue(this.masterKey, { orgId, secretId: id }, validateSecretValue(input.value));
    if (input.description !== undefined) patch.description = validateDescription(input.description);
    if (input.hosts !== undefined) patch.hosts = validateHosts(input.hosts);
    if (input.locations !== undefined) patch.locations = validateLocations(input.locations);
    if (Object.keys(patch).length === 1) return secretView(existing); // nothing to change
    const updated = await this.repo.updateSecret(orgId, id, patch);
    if (!updated) throw notFound(id);
    this.feed.publish({ kind: 'secret', orgId, secretId: id });
    return secretView(updated);
  }

  async delete(orgId: string, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.repo.deleteSecret(orgId, id))) throw notFound(id);
    this.feed.publish({ kind: 'secret', orgId, secretId: id });
  }

  private async requireRecord(orgId: string, id: string): Promise<SecretRecord> {
    const record = isUuid(id) ? await this.repo.getSecret(orgId, id) : null;
    if (!record) throw notFound(id);
    return record;
  }
}

function notFound(id: string): NotFoundError {
  // Echo only well-formed ids: a caller may have pasted anything (even a value) into the URL.
  return new NotFoundError(isUuid(id) ? `secret ${id} not found` : 'secret not found');
}

function parseLimit(input: unknown): number {
  if (input === undefined || input === '') return PAGE_LIMIT_DEFAULT;
  const text = String(input);
  const limit = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) {
    throw new BadRequestError(`limit must be an integer from 1 to ${PAGE_LIMIT_MAX}`);
  }
  return limit;
}

function parseSort(input: unknown): SecretSortField | undefined {
  if (input === undefined || input === '') return undefined;
  if (input === 'name' || input === 'createdAt' || input === 'updatedAt') return input;
  throw new BadRequestError('sort must be one of name, createdAt, updatedAt');
}

function parseOrder(input: unknown): SortOrder | undefined {
  if (input === undefined || input === '') return undefined;
  if (input === 'asc' || input === 'desc') return input;
  throw new BadRequestError('order must be asc or desc');
}
