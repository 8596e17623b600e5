/** Sandboxes: consumers that mount secrets as env vars holding placeholders. */
import { randomUUID } from 'node:crypto';
import { generateProxyToken, sha256Hex } from '../crypto/tokens.js';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.js';
import type { ChangeFeed } from '../events/types.js';
import { isUuid } from '../ids.js';
import type { Repository, SandboxMountRecord, SandboxRecord, Scope, SecretRecord } from '../store/types.js';
import { asObject, quote, SANDBOX_NAME_MAX, SANDBOX_NAME_PATTERN, validateMountList, validateOptionalName } from './validation.js';
import { sandboxView, type SandboxView } from './views.js';

export interface CreatedSandbox extends SandboxView {
  /** The sandbox's proxy credential; only its hash is stored, so this is the only time it exists. */
  proxyToken: string;
}

/** The scopes a sandbox-scoped key may hold: both address one sandbox. */
export const SANDBOX_KEY_SCOPES: readonly Scope[] = ['sandboxes:write', 'proxy:resolve'];

/**
 * Who acts on sandboxes: an org, narrowed to one sandbox for a sandbox-scoped API key (an
 * ApiKeyRecord fits as is). A plain org id acts on the whole org (in-process callers).
 */
export interface SandboxActor {
  orgId: string;
  sandboxId: string | null;
}

function actorOf(actor: string | SandboxActor): SandboxActor {
  return typeof actor === 'string' ? { orgId: actor, sandboxId: null } : actor;
}

/**
 * The one rule for sandbox-scoped keys: any other sandbox is invisible, exactly like one of
 * another org (so callers answer 404, never 403, and learn nothing about it).
 */
export function actorSees(actor: SandboxActor, sandbox: Pick<SandboxRecord, 'id' | 'orgId'>): boolean {
  return sandbox.orgId === actor.orgId && (actor.sandboxId === null || actor.sandboxId === sandbox.id);
}

export class SandboxesService {
  constructor(
    private readonly repo: Repository,
    private readonly feed: ChangeFeed,
  ) {}

  async create(as: string | SandboxActor, body: unknown): Promise<CreatedSandbox> {
    const actor = actorOf(as);
    // Its own sandbox exists already: a new one would be one it may not act on.
    if (actor.sandboxId !== null) throw new ForbiddenError(`this API key is restricted to sandbox ${actor.sandboxId}; it cannot create sandboxes`);
    const orgId = actor.orgId;
    const input = body === undefined || body === null ? {} : asObject(body);
    const name = validateOptionalName('name', input.name, SANDBOX_NAME_PATTERN, SANDBOX_NAME_MAX);
    const { mounts, secretsById } = await this.resolveMounts(orgId, input.secrets);
    const id = randomUUID();
    const proxyToken = generateProxyToken();
    const now = new Date();
    const record: SandboxRecord = {
      id,
      orgId,
      name: name ?? id,
      mounts,
      proxyTokenHash: sha256Hex(proxyToken),
      createdAt: now,
      updatedAt: now,
    };
    const created = await this.repo.createSandbox(record);
    // A proxy may have cached "no such sandbox" for this id; let it forget.
    this.feed.publish({ kind: 'sandbox', orgId, sandboxId: id });
    return { ...sandboxView(created, secretsById), proxyToken };
  }

  async get(as: string | SandboxActor, idOrName: string): Promise<SandboxView> {
    const record = await this.find(as, idOrName);
    return sandboxView(record, await this.mountedSecrets(record));
  }

  async list(as: string | SandboxActor): Promise<SandboxView[]> {
    const actor = actorOf(as);
    if (actor.sandboxId !== null) {
      const own = await this.repo.getSandbox(actor.orgId, actor.sandboxId);
      return own ? [sandboxView(own, await this.mountedSecrets(own))] : [];
    }
    const [records, secrets] = await Promise.all([this.repo.listSandboxes(actor.orgId), this.secretsOf(actor.orgId)]);
    return records.map((record) => sandboxView(record, secrets));
  }

  /** Replaces the whole mount set (`[]` detaches everything). */
  async replaceSecrets(as: string | SandboxActor, idOrName: string, body: unknown): Promise<SandboxView> {
    const orgId = actorOf(as).orgId;
    const input = asObject(body);
    if (input.secrets === undefined || input.secrets === null) {
      throw new BadRequestError('secrets is required: an array of {"ENV_VAR": "secretName"} objects ([] detaches all)');
    }
    const sandbox = await this.find(as, idOrName);
    const { mounts, secretsById } = await this.resolveMounts(orgId, input.secrets);
    const updated = await this.repo.replaceSandboxMounts(orgId, sandbox.id, mounts, new Date());
    if (!updated) throw notFound(idOrName);
    this.feed.publish({ kind: 'sandbox', orgId, sandboxId: sandbox.id });
    return sandboxView(updated, secretsById);
  }

  async delete(as: string | SandboxActor, idOrName: string): Promise<void> {
    const orgId = actorOf(as).orgId;
    const sandbox = await this.find(as, idOrName);
    if (!(await this.repo.deleteSandbox(orgId, sandbox.id))) throw notFound(idOrName);
    this.feed.publish({ kind: 'sandbox', orgId, sandboxId: sandbox.id });
  }

  /**
   * By id first, then by name within the org (Daytona addresses sandboxes by either). Every
   * single-sandbox operation goes through here, so a sandbox-scoped key reaches only its own.
   */
  async find(as: string | SandboxActor, idOrName: string): Promise<SandboxRecord> {
    const actor = actorOf(as);
    let found: SandboxRecord | null = null;
    if (isUuid(idOrName)) found = await this.repo.getSandbox(actor.orgId, idOrName.toLowerCase());
    found ??= await this.repo.getSandboxByName(actor.orgId, idOrName);
    if (!found || !actorSees(actor, found)) throw notFound(idOrName);
    return found;
  }

  /** Only the secrets a sandbox mounts (an org may hold many more). */
  private async mountedSecrets(sandbox: SandboxRecord): Promise<Map<string, SecretRecord>> {
    const secrets = await Promise.all(sandbox.mounts.map((mount) => this.repo.getSecret(sandbox.orgId, mount.secretId)));
    return new Map(secrets.filter((secret): secret is SecretRecord => secret !== null).map((secret) => [secret.id, secret]));
  }

  private async secretsOf(orgId: string): Promise<Map<string, SecretRecord>> {
    return new Map((await this.repo.listSecrets(orgId)).map((secret) => [secret.id, secret]));
  }

  /** Validates the mount list and maps secret names (in this org) to ids; unknown names are a 400. */
  private async resolveMounts(orgId: string, input: unknown): Promise<{ mounts: SandboxMountRecord[]; secretsById: Map<string, SecretRecord> }> {
    const requested = validateMountList(input);
    const byName = new Map<string, SecretRecord | null>();
    for (const { secretName } of requested) {
      if (!byName.has(secretName)) byName.set(secretName, await this.repo.getSecretByName(orgId, secretName));
    }
    const mounts = requested.map(({ env, secretName }) => {
      const secret = byName.get(secretName);
      if (!secret) throw new BadRequestError(`secrets: env var ${quote(env)} refers to unknown secret ${quote(secretName)}`);
      return { env, secretId: secret.id };
    });
    const secretsById = new Map<string, SecretRecord>();
    for (const secret of byName.values()) if (secret) secretsById.set(secret.id, secret);
    return { mounts, secretsById };
  }
}

function notFound(idOrName: string): NotFoundError {
  // Echo only well-formed ids: a caller may have pasted anything into the URL.
  return new NotFoundError(isUuid(idOrName) ? `sandbox ${idOrName} not found` : 'sandbox not found');
}
