/** Organizations and API keys. Keys are stored as sha256 hashes only. */
import { createHash, randomUUID } from 'node:crypto';
import { constantTimeEqual, generateApiKey, parseApiKey, sha256Hex } from '../crypto/tokens.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../errors.js';
import { isUuid } from '../ids.js';
import type { ApiKeyRecord, OrgRecord, Repository, Scope } from '../store/types.js';
import { asObject, quote, ORG_NAME_MAX, ORG_NAME_PATTERN, requireString, validateOptionalName, validateScopes } from './validation.js';
import { BadRequestError } from '../errors.js';
import { isExpired, validateExpiry } from './key-expiry.js';
import { SANDBOX_KEY_SCOPES } from './sandboxes.js';
import { apiKeyView, orgView, type ApiKeyView, type OrgView } from './views.js';

export const DEFAULT_ORG_NAME = 'default';
/** Minimum length of an operator-chosen key (VEIL_ADMIN_API_KEY). */
export const MIN_CUSTOM_KEY_LENGTH = 32;

export class OrgsService {
  constructor(private readonly repo: Repository) {}

  async create(body: unknown): Promise<OrgView> {
    const input = asObject(body);
    const name = validateOrgName(input.name);
    return orgView(await this.repo.createOrg({ id: randomUUID(), name, createdAt: new Date() }));
  }

  /** Get-or-create by name; safe when several processes race (the unique name decides). */
  async ensure(name: string): Promise<OrgRecord> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.repo.getOrgByName(name);
      if (existing) return existing;
      try {
        return await this.repo.createOrg({ id: randomUUID(), name, createdAt: new Date() });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new Error(`could not create or read organization "${name}"`);
  }

  async list(): Promise<OrgView[]> {
    return (await this.repo.listOrgs()).map(orgView);
  }

  async get(id: string): Promise<OrgView | null> {
    const org = await this.repo.getOrg(id);
    return org ? orgView(org) : null;
  }

  /** By id, else by name. */
  async find(nameOrId: string): Promise<OrgRecord | null> {
    if (isUuid(nameOrId)) {
      const byId = await this.repo.getOrg(nameOrId.toLowerCase());
      if (byId) return byId;
    }
    return this.repo.getOrgByName(nameOrId);
  }

  /** Admin keys of the `default` org administer the whole instance; others only their own org. */
  async isInstanceAdmin(key: ApiKeyRecord): Promise<boolean> {
    if (!key.scopes.includes('admin')) return false;
    return (await this.repo.getOrg(key.orgId))?.name === DEFAULT_ORG_NAME;
  }
}

function validateOrgName(input: unknown): string {
  const name = requireString('name', input);
  if (name === '') throw new BadRequestError('name must not be empty');
  const valid = validateOptionalName('name', name, ORG_NAME_PATTERN, ORG_NAME_MAX);
  return valid!;
}

/**
 * Id of the key record of an operator-chosen key (not in `veil_key_<id>_<secret>` form): derived
 * from the key's hash so the key can be looked up without storing it.
 */
export function customKeyRecordId(key: string): string {
  const hex = createHash('sha256').update(`veil:custom-key:${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface CreatedApiKey extends ApiKeyView {
  /** The key itself; shown once. */
  key: string;
}

export class ApiKeysService {
  constructor(
    private readonly repo: Repository,
    private readonly orgs: OrgsService,
  ) {}

  /**
   * Creates a key for `org` (name or id). `restrictToOrgId`: the caller may only create keys in
   * that org; any other org is reported as not found.
   */
  async create(body: unknown, restrictToOrgId?: string): Promise<CreatedApiKey> {
    const input = asObject(body);
    const orgRef = requireString('org', input.org);
    const scopes = validateScopes(input.scopes);
    const expiresAt = validateExpiry(input, new Date());
    const name = validateOptionalName('name', input.name, /^[\x20-\x7e]+$/, 256);
    let sandboxId: string | null = null;
    if (input.sandboxId !== undefined && input.sandboxId !== null && input.sandboxId !== '') {
      sandboxId = requireString('sandboxId', input.sandboxId).toLowerCase();
      if (!isUuid(sandboxId)) throw new BadRequestError('sandboxId must be a sandbox id (UUID)');
      // Anything else (secrets, orgs, keys) is not about one sandbox: such a key could never use it.
      const unfit = scopes.filter((scope) => !SANDBOX_KEY_SCOPES.includes(scope));
      if (unfit.length > 0) {
        throw new BadRequestError(`sandboxId: a sandbox-scoped key may only have the scopes ${SANDBOX_KEY_SCOPES.join(', ')} (not ${unfit.join(', ')})`);
      }
    }
    const org = await this.orgs.find(orgRef);
    if (!org || (restrictToOrgId !== undefined && org.id !== restrictToOrgId)) {
      throw new NotFoundError(`organization ${quote(orgRef)} not found`);
    }
    if (sandboxId && !(await this.repo.getSandbox(org.id, sandboxId))) {
      throw new BadRequestError(`sandboxId: sandbox ${sandboxId} not found in organization "${org.name}"`);
    }
    return this.issue(org.id, scopes, name, sandboxId, randomUUID(), expiresAt);
  }

  /** Generates and stores a key; `id` lets bootstrap use a well-known record id. */
  async issue(
    orgId: string,
    scopes: Scope[],
    name: string | null,
    sandboxId: string | null,
    id: string = randomUUID(),
    expiresAt: Date | null = null,
  ): Promise<CreatedApiKey> {
    const key = generateApiKey(id);
    const record = await this.repo.createApiKey({ id, orgId, name, secretHash: sha256Hex(key), scopes, sandboxId, createdAt: new Date(), expiresAt });
    return { ...apiKeyView(record), key };
  }

  /** Stores an operator-chosen key (VEIL_ADMIN_API_KEY) unless it is stored already. */
  async registerCustomKey(orgId: string, key: string, scopes: Scope[], name: string): Promise<ApiKeyRecord> {
    if (key.length < MIN_CUSTOM_KEY_LENGTH || /\s/.test(key)) {
      throw new Error(`VEIL_ADMIN_API_KEY must be at least ${MIN_CUSTOM_KEY_LENGTH} characters without whitespace`);
    }
    const id = parseApiKey(key)?.keyId ?? customKeyRecordId(key);
    const existing = await this.repo.getApiKey(id);
    if (existing) return existing;
    try {
      return await this.repo.createApiKey({ id, orgId, name, secretHash: sha256Hex(key), scopes, sandboxId: null, createdAt: new Date(), expiresAt: null });
    } catch (error) {
      const raced = error instanceof ConflictError ? await this.repo.getApiKey(id) : null;
      if (raced) return raced;
      throw error;
    }
  }

  /**
   * The key record for a presented key; UnauthorizedError saying why not (unknown, revoked and
   * wrong keys alike are "invalid"; only a genuine key past its expiry hears "expired").
   * Hash comparison is constant-time.
   */
  async verify(key: string, now: Date = new Date()): Promise<ApiKeyRecord> {
    if (key.length < MIN_CUSTOM_KEY_LENGTH || key.length > 512) throw new UnauthorizedError('invalid API key');
    const id = parseApiKey(key)?.keyId ?? customKeyRecordId(key);
    const record = await this.repo.getApiKey(id);
    if (!record || !constantTimeEqual(record.secretHash, sha256Hex(key))) throw new UnauthorizedError('invalid API key');
    if (isExpired(record, now)) throw new UnauthorizedError(`this API key expired at ${record.expiresAt!.toISOString()}; create a new one (veil keys create)`);
    return record;
  }

  /** The key record for a presented key, or null when it is unknown, wrong, revoked or expired. */
  async authenticate(key: string, now: Date = new Date()): Promise<ApiKeyRecord | null> {
    try {
      return await this.verify(key, now);
    } catch (error) {
      if (error instanceof UnauthorizedError) return null;
      throw error;
    }
  }

  /**
   * Keys of one org (`org`: name or id) or, without it, of every org. `restrictToOrgId`: the
   * caller administers only that org; any other is reported as not found.
   */
  async list(options: { org?: unknown; restrictToOrgId?: string | undefined } = {}): Promise<ApiKeyView[]> {
    if (options.org !== undefined && options.org !== '') {
      const orgRef = requireString('org', options.org);
      const org = await this.orgs.find(orgRef);
      if (!org || (options.restrictToOrgId !== undefined && org.id !== options.restrictToOrgId)) {
        throw new NotFoundError(`organization ${quote(orgRef)} not found`);
      }
      return (await this.repo.listApiKeys(org.id)).map(apiKeyView);
    }
    if (options.restrictToOrgId !== undefined) return (await this.repo.listApiKeys(options.restrictToOrgId)).map(apiKeyView);
    const all: ApiKeyView[] = [];
    for (const org of await this.repo.listOrgs()) all.push(...(await this.repo.listApiKeys(org.id)).map(apiKeyView));
    return all;
  }

  /** Deletes (revokes) a key; `restrictToOrgId` as for list(). Its open event streams end at their next heartbeat. */
  async revoke(id: string, restrictToOrgId?: string): Promise<void> {
    const notFound = new NotFoundError(isUuid(id) ? `API key ${id} not found` : 'API key not found');
    if (!isUuid(id)) throw notFound;
    const record = await this.repo.getApiKey(id.toLowerCase());
    if (!record || (restrictToOrgId !== undefined && record.orgId !== restrictToOrgId)) throw notFound;
    if (!(await this.repo.deleteApiKey(record.orgId, record.id))) throw notFound;
  }
}
