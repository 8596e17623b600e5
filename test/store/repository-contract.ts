import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import type { Repository, SecretPageQuery, SecretRecord, SecretSortField, SortOrder } from '../../src/store/types.js';
import { fakePlaceholder, msDate, newOrg, newSecret, sandboxRecord, secretRecord } from './fixtures.js';

/**
 * The behaviour every Repository implementation must share. `open` returns a fresh, migrated-or-not
 * repository; the suite migrates it itself. Tests isolate themselves by creating their own orgs.
 */
export function describeRepositoryContract(
  name: string,
  open: () => Promise<Repository>,
  cleanup: () => Promise<void> = async () => undefined,
): void {
  describe(`Repository contract: ${name}`, () => {
    let repo: Repository;

    beforeAll(async () => {
      repo = await open();
      await repo.migrate();
    });

    afterAll(async () => {
      await repo?.close();
      await cleanup();
    });

    describe('migrate', () => {
      it('is idempotent and keeps data', async () => {
        const org = await newOrg(repo);
        await repo.migrate();
        await repo.migrate();
        expect(await repo.getOrg(org.id)).toEqual(org);
      });
    });

    describe('orgs', () => {
      it('creates and reads an org by id and by name with ms-precise dates', async () => {
        const org = { id: randomUUID(), name: `acme-${randomUUID()}`, createdAt: msDate(1) };
        expect(await repo.createOrg(org)).toEqual(org);
        const byId = await repo.getOrg(org.id);
        expect(byId).toEqual(org);
        expect(byId!.createdAt).toBeInstanceOf(Date);
        expect(byId!.createdAt.getTime()).toBe(org.createdAt.getTime());
        expect(await repo.getOrgByName(org.name)).toEqual(org);
        expect(await repo.getOrg(randomUUID())).toBeNull();
        expect(await repo.getOrgByName(`missing-${randomUUID()}`)).toBeNull();
      });

      it('rejects a duplicate name with ConflictError but treats names case-sensitively', async () => {
        const base = `Dup-${randomUUID()}`;
        await newOrg(repo, base);
        const clash = newOrg(repo, base);
        await expect(clash).rejects.toBeInstanceOf(ConflictError);
        await expect(clash).rejects.toThrow(`an organization named "${base}" already exists`);
        const lower = await newOrg(repo, base.toLowerCase());
        expect(lower.name).toBe(base.toLowerCase());
        expect((await repo.getOrgByName(base))!.name).toBe(base);
      });

      it('lists orgs', async () => {
        const a = await newOrg(repo);
        const b = await newOrg(repo);
        const ids = (await repo.listOrgs()).map((org) => org.id);
        expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
      });
    });

    describe('api keys', () => {
      it('creates, reads, lists per org and deletes only within the org', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const admin = {
          id: randomUUID(),
          orgId: org.id,
          name: 'bootstrap',
          secretHash: 'a'.repeat(64),
          scopes: ['secrets:read', 'secrets:write', 'sandboxes:write', 'admin'] as const,
          sandboxId: null,
          createdAt: msDate(),
          expiresAt: null,
        };
        const proxyKey = {
          id: randomUUID(),
          orgId: org.id,
          name: null,
          secretHash: 'b'.repeat(64),
          scopes: ['proxy:resolve'] as const,
          sandboxId: randomUUID(),
          createdAt: msDate(5),
          // Expiry round-trips with millisecond precision, like every other date.
          expiresAt: msDate(86_400_000 + 7),
        };
        const foreign = { ...proxyKey, id: randomUUID(), orgId: other.id, secretHash: 'c'.repeat(64) };
        expect(await repo.createApiKey({ ...admin, scopes: [...admin.scopes] })).toEqual({ ...admin, scopes: [...admin.scopes] });
        await repo.createApiKey({ ...proxyKey, scopes: [...proxyKey.scopes] });
        await repo.createApiKey({ ...foreign, scopes: [...foreign.scopes] });

        expect(await repo.getApiKey(proxyKey.id)).toEqual({ ...proxyKey, scopes: ['proxy:resolve'] });
        expect(await repo.getApiKey(randomUUID())).toBeNull();
        const listed = await repo.listApiKeys(org.id);
        expect(listed.map((key) => key.id).sort()).toEqual([admin.id, proxyKey.id].sort());

        expect(await repo.deleteApiKey(other.id, proxyKey.id)).toBe(false);
        expect(await repo.getApiKey(proxyKey.id)).not.toBeNull();
        expect(await repo.deleteApiKey(org.id, proxyKey.id)).toBe(true);
        expect(await repo.deleteApiKey(org.id, proxyKey.id)).toBe(false);
        expect(await repo.getApiKey(proxyKey.id)).toBeNull();
        expect((await repo.listApiKeys(other.id)).map((key) => key.id)).toEqual([foreign.id]);
      });
    });

    describe('secrets', () => {
      it('round-trips every field, including binary ciphertext and a null description', async () => {
        const org = await newOrg(repo);
        const record = secretRecord(org.id, { description: null, locations: ['body'], hosts: [] });
        const created = await repo.createSecret(record);
        expect(created).toEqual(record);
        const read = await repo.getSecret(org.id, record.id);
        expect(read).toEqual(record);
        expect(Buffer.isBuffer(read!.encryptedValue)).toBe(true);
        expect(read!.encryptedValue.equals(record.encryptedValue)).toBe(true);
        expect(read!.updatedAt).toBeInstanceOf(Date);
        expect(await repo.getSecretByName(org.id, record.name)).toEqual(record);
      });

      it('scopes reads to the org', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        expect(await repo.getSecret(other.id, secret.id)).toBeNull();
        expect(await repo.getSecretByName(other.id, secret.name)).toBeNull();
        expect(await repo.getSecret(org.id, randomUUID())).toBeNull();
        expect(await repo.listSecrets(other.id)).toEqual([]);
        expect((await repo.listSecrets(org.id)).map((s) => s.id)).toEqual([secret.id]);
      });

      it('lists secrets of one org by createdAt, then id', async () => {
        const org = await newOrg(repo);
        const late = await newSecret(repo, org.id, { name: 'A_LATE', createdAt: msDate(2000) });
        const early = await newSecret(repo, org.id, { name: 'Z_EARLY', createdAt: msDate(0) });
        const tieA = await newSecret(repo, org.id, { name: 'M_TIE', createdAt: msDate(1000) });
        const tieB = await newSecret(repo, org.id, { name: 'N_TIE', createdAt: msDate(1000) });
        const ties = [tieA, tieB].sort((x, y) => Buffer.compare(Buffer.from(x.id), Buffer.from(y.id)));
        expect((await repo.listSecrets(org.id)).map((s) => s.id)).toEqual([early.id, ...ties.map((s) => s.id), late.id]);
      });

      it('rejects a duplicate (org, name) with ConflictError; other orgs and other cases are distinct names', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        await newSecret(repo, org.id, { name: 'OPENAI_API_KEY' });
        const clash = newSecret(repo, org.id, { name: 'OPENAI_API_KEY' });
        await expect(clash).rejects.toBeInstanceOf(ConflictError);
        // Same wording on every backend; it names the secret, never its value.
        await expect(clash).rejects.toThrow('a secret named "OPENAI_API_KEY" already exists');
        await newSecret(repo, org.id, { name: 'openai_api_key' });
        await newSecret(repo, other.id, { name: 'OPENAI_API_KEY' });
        expect((await repo.getSecretByName(org.id, 'openai_api_key'))!.name).toBe('openai_api_key');
        expect(await repo.getSecretByName(org.id, 'OpenAI_API_Key')).toBeNull();
        expect((await repo.listSecrets(org.id)).map((s) => s.name).sort()).toEqual(['OPENAI_API_KEY', 'openai_api_key']);
      });

      it('rejects a duplicate placeholder with ConflictError, even across orgs', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const first = await newSecret(repo, org.id);
        await expect(newSecret(repo, other.id, { placeholder: first.placeholder })).rejects.toBeInstanceOf(ConflictError);
        expect(await repo.listSecrets(other.id)).toEqual([]);
      });

      it('rejects a duplicate id with ConflictError', async () => {
        const org = await newOrg(repo);
        const first = await newSecret(repo, org.id);
        await expect(newSecret(repo, org.id, { id: first.id })).rejects.toBeInstanceOf(ConflictError);
      });

      it('updates only the patched fields and bumps updatedAt', async () => {
        const org = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        const t1 = msDate(60_000);
        const described = await repo.updateSecret(org.id, secret.id, { description: 'new words', updatedAt: t1 });
        expect(described).toEqual({ ...secret, description: 'new words', updatedAt: t1 });

        const t2 = msDate(120_000);
        const value = Buffer.from([9, 0, 8, 0, 7]);
        const changed = await repo.updateSecret(org.id, secret.id, {
          name: 'RENAMED',
          description: null,
          hosts: ['new.example.net'],
          locations: ['body', 'header'],
          encryptedValue: value,
          updatedAt: t2,
        });
        const expected: SecretRecord = {
          ...secret,
          name: 'RENAMED',
          description: null,
          hosts: ['new.example.net'],
          locations: ['body', 'header'],
          encryptedValue: value,
          updatedAt: t2,
        };
        expect(changed).toEqual(expected);
        expect(await repo.getSecret(org.id, secret.id)).toEqual(expected);
        expect(await repo.getSecretByName(org.id, secret.name)).toBeNull();
        // createdAt and placeholder never change through an update.
        expect(changed!.createdAt.getTime()).toBe(secret.createdAt.getTime());
        expect(changed!.placeholder).toBe(secret.placeholder);

        const t3 = msDate(180_000);
        expect(await repo.updateSecret(org.id, secret.id, { updatedAt: t3 })).toEqual({ ...expected, updatedAt: t3 });
      });

      it('returns null when updating a secret that is missing or in another org', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        expect(await repo.updateSecret(org.id, randomUUID(), { description: 'x', updatedAt: msDate(1) })).toBeNull();
        expect(await repo.updateSecret(other.id, secret.id, { description: 'x', updatedAt: msDate(1) })).toBeNull();
        expect(await repo.getSecret(org.id, secret.id)).toEqual(secret);
      });

      it('rejects a rename onto an existing name with ConflictError and leaves both unchanged', async () => {
        const org = await newOrg(repo);
        const a = await newSecret(repo, org.id, { name: 'ALPHA' });
        const b = await newSecret(repo, org.id, { name: 'BETA' });
        await expect(repo.updateSecret(org.id, b.id, { name: 'ALPHA', updatedAt: msDate(9) })).rejects.toBeInstanceOf(ConflictError);
        expect(await repo.getSecret(org.id, a.id)).toEqual(a);
        expect(await repo.getSecret(org.id, b.id)).toEqual(b);
        // A rename to a different case of an existing name is allowed.
        expect((await repo.updateSecret(org.id, b.id, { name: 'alpha', updatedAt: msDate(10) }))!.name).toBe('alpha');
      });

      it('deletes within the org only and cascades to sandbox mounts', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const a = await newSecret(repo, org.id);
        const b = await newSecret(repo, org.id);
        const one = await repo.createSandbox(
          sandboxRecord(org.id, { mounts: [{ env: 'A', secretId: a.id }, { env: 'B', secretId: b.id }] }),
        );
        const two = await repo.createSandbox(sandboxRecord(org.id, { mounts: [{ env: 'ONLY_A', secretId: a.id }] }));

        expect(await repo.deleteSecret(other.id, a.id)).toBe(false);
        expect(await repo.getSecret(org.id, a.id)).not.toBeNull();
        expect(await repo.deleteSecret(org.id, a.id)).toBe(true);
        expect(await repo.deleteSecret(org.id, a.id)).toBe(false);
        expect(await repo.getSecret(org.id, a.id)).toBeNull();

        expect((await repo.getSandbox(org.id, one.id))!.mounts).toEqual([{ env: 'B', secretId: b.id }]);
        expect((await repo.getSandbox(org.id, two.id))!.mounts).toEqual([]);
        expect(await repo.getSecret(org.id, b.id)).toEqual(b);
      });
    });

    describe('pageSecrets', () => {
      // Names chosen so byte order differs from case-insensitive order, with LIKE metacharacters.
      const names = ['beta', 'Alpha', 'gamma_x', 'gammaYx', 'delta%', 'deltaZ', 'EPS\\ILON', 'zeta', 'Beta'];
      let orgId: string;
      let all: SecretRecord[];

      beforeAll(async () => {
        orgId = (await newOrg(repo)).id;
        const otherOrg = await newOrg(repo);
        await newSecret(repo, otherOrg.id, { name: 'beta' });
        all = [];
        for (const [index, secretName] of names.entries()) {
          // Runs of three secrets share a timestamp, so pages of two split ties and the id
          // tie-breaker decides what comes next.
          const createdAt = msDate(Math.floor((index + 1) / 3) * 1000);
          const updatedAt = msDate(10_000 - Math.floor(index / 3) * 1000);
          all.push(await newSecret(repo, orgId, { name: secretName, createdAt, updatedAt }));
        }
      });

      const sortValue = (secret: SecretRecord, sort: SecretSortField): string | number =>
        sort === 'name' ? secret.name : secret[sort].getTime();

      const compareBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

      function expectedOrder(items: SecretRecord[], sort: SecretSortField, order: SortOrder): string[] {
        const sign = order === 'asc' ? 1 : -1;
        return [...items]
          .sort((x, y) => {
            const vx = sortValue(x, sort);
            const vy = sortValue(y, sort);
            const primary = typeof vx === 'number' && typeof vy === 'number' ? vx - vy : compareBytes(String(vx), String(vy));
            return sign * (primary !== 0 ? primary : compareBytes(x.id, y.id));
          })
          .map((s) => s.id);
      }

      async function walk(query: Omit<SecretPageQuery, 'after'>): Promise<{ ids: string[]; totals: number[] }> {
        const ids: string[] = [];
        const totals: number[] = [];
        let after: SecretPageQuery['after'];
        for (let guard = 0; guard < 50; guard++) {
          const page = await repo.pageSecrets({ ...query, after });
          totals.push(page.total);
          expect(page.items.length).toBeLessThanOrEqual(query.limit);
          ids.push(...page.items.map((s) => s.id));
          const last = page.items.at(-1);
          if (!last || page.items.length < query.limit) return { ids, totals };
          after = { value: sortValue(last, query.sort), id: last.id };
        }
        throw new Error('pagination did not terminate');
      }

      for (const sort of ['name', 'createdAt', 'updatedAt'] as const) {
        for (const order of ['asc', 'desc'] as const) {
          it(`walks all pages in a total order: sort=${sort} order=${order}`, async () => {
            const { ids, totals } = await walk({ orgId, limit: 2, sort, order });
            expect(ids).toEqual(expectedOrder(all, sort, order));
            expect(new Set(totals)).toEqual(new Set([names.length]));
          });
        }
      }

      it('returns full records on a page', async () => {
        const page = await repo.pageSecrets({ orgId, limit: 1, sort: 'name', order: 'asc' });
        const first = all.find((s) => s.id === page.items[0]!.id)!;
        expect(page.items).toEqual([first]);
      });

      it('filters by a case-insensitive substring and counts the filter in total', async () => {
        const page = await repo.pageSecrets({ orgId, limit: 10, sort: 'name', order: 'asc', nameContains: 'BETA' });
        expect(page.items.map((s) => s.name)).toEqual(['Beta', 'beta']);
        expect(page.total).toBe(2);
        const paged = await walk({ orgId, limit: 1, sort: 'name', order: 'asc', nameContains: 'eta' });
        expect(paged.ids).toEqual(expectedOrder(all.filter((s) => /eta/i.test(s.name)), 'name', 'asc'));
        expect(new Set(paged.totals)).toEqual(new Set([3]));
      });

      it('matches %, _ and \\ literally in the filter', async () => {
        const byFilter = async (nameContains: string) =>
          (await repo.pageSecrets({ orgId, limit: 20, sort: 'name', order: 'asc', nameContains })).items.map((s) => s.name);
        expect(await byFilter('%')).toEqual(['delta%']);
        expect(await byFilter('_')).toEqual(['gamma_x']);
        expect(await byFilter('a_x')).toEqual(['gamma_x']);
        expect(await byFilter('\\')).toEqual(['EPS\\ILON']);
        expect(await byFilter('s\\i')).toEqual(['EPS\\ILON']);
        expect(await byFilter('no-such')).toEqual([]);
      });

      it('returns an empty page with the total after the last item', async () => {
        const ordered = expectedOrder(all, 'name', 'desc');
        const last = all.find((s) => s.id === ordered.at(-1))!;
        const page = await repo.pageSecrets({ orgId, limit: 5, sort: 'name', order: 'desc', after: { value: last.name, id: last.id } });
        expect(page.items).toEqual([]);
        expect(page.total).toBe(names.length);
      });

      it('keeps a cursor stable when rows are inserted between pages', async () => {
        const org = await newOrg(repo);
        const initial: SecretRecord[] = [];
        for (const secretName of ['k1', 'k3', 'k5', 'k7']) initial.push(await newSecret(repo, org.id, { name: secretName }));
        const first = await repo.pageSecrets({ orgId: org.id, limit: 2, sort: 'name', order: 'asc' });
        expect(first.items.map((s) => s.name)).toEqual(['k1', 'k3']);
        // One row lands before the cursor (must not appear), one after it (must appear once).
        await newSecret(repo, org.id, { name: 'k2' });
        await newSecret(repo, org.id, { name: 'k4' });
        const last = first.items.at(-1)!;
        const second = await repo.pageSecrets({ orgId: org.id, limit: 10, sort: 'name', order: 'asc', after: { value: last.name, id: last.id } });
        expect(second.items.map((s) => s.name)).toEqual(['k4', 'k5', 'k7']);
        expect(second.total).toBe(6);
      });

      it('keeps a timestamp cursor stable when rows are inserted between pages', async () => {
        const org = await newOrg(repo);
        for (let i = 0; i < 4; i++) await newSecret(repo, org.id, { name: `t${i}`, createdAt: msDate(i * 1000) });
        const first = await repo.pageSecrets({ orgId: org.id, limit: 2, sort: 'createdAt', order: 'desc' });
        expect(first.items.map((s) => s.name)).toEqual(['t3', 't2']);
        await newSecret(repo, org.id, { name: 'newest', createdAt: msDate(10_000) });
        await newSecret(repo, org.id, { name: 'older', createdAt: msDate(500) });
        const last = first.items.at(-1)!;
        const second = await repo.pageSecrets({
          orgId: org.id,
          limit: 10,
          sort: 'createdAt',
          order: 'desc',
          after: { value: last.createdAt.getTime(), id: last.id },
        });
        expect(second.items.map((s) => s.name)).toEqual(['t1', 'older', 't0']);
        expect(second.total).toBe(6);
      });
    });

    describe('sandboxes', () => {
      it('creates and reads a sandbox with ordered mounts, by org and by id alone', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const a = await newSecret(repo, org.id);
        const b = await newSecret(repo, org.id);
        const record = sandboxRecord(org.id, {
          mounts: [
            { env: 'ZED', secretId: b.id },
            { env: 'ALPHA', secretId: a.id },
            { env: 'MIDDLE', secretId: b.id },
          ],
          updatedAt: msDate(3),
        });
        expect(await repo.createSandbox(record)).toEqual(record);
        expect(await repo.getSandbox(org.id, record.id)).toEqual(record);
        expect(await repo.getSandboxById(record.id)).toEqual(record);
        expect(await repo.getSandbox(other.id, record.id)).toBeNull();
        expect(await repo.getSandbox(org.id, randomUUID())).toBeNull();
        expect(await repo.getSandboxById(randomUUID())).toBeNull();
        // The proxy passes untrusted ids straight through: a malformed one is just "not found".
        expect(await repo.getSandboxById('not-a-uuid')).toBeNull();
        expect(await repo.getSandboxById("x' OR '1'='1")).toBeNull();
      });

      it('finds a sandbox by its exact name within its org only, with its mounts', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        const mine = await repo.createSandbox(sandboxRecord(org.id, { name: 'agent', mounts: [{ env: 'KEY', secretId: secret.id }] }));
        await repo.createSandbox(sandboxRecord(org.id, { name: 'Agent' }));
        const theirs = await repo.createSandbox(sandboxRecord(other.id, { name: 'agent' }));

        expect(await repo.getSandboxByName(org.id, 'agent')).toEqual(mine);
        expect(await repo.getSandboxByName(other.id, 'agent')).toEqual(theirs);
        expect(await repo.getSandboxByName(org.id, 'never-created')).toBeNull();
        expect(await repo.getSandboxByName(randomUUID(), 'agent')).toBeNull();
        // Another org's sandbox is never returned, even when no sandbox of this org has the name.
        await repo.createSandbox(sandboxRecord(other.id, { name: 'only-theirs' }));
        expect(await repo.getSandboxByName(org.id, 'only-theirs')).toBeNull();
        // Exact match: no case folding, no LIKE wildcards, untrusted text is just "not found".
        expect((await repo.getSandboxByName(org.id, 'Agent'))?.name).toBe('Agent');
        expect(await repo.getSandboxByName(org.id, 'AGENT')).toBeNull();
        expect(await repo.getSandboxByName(org.id, 'agen_')).toBeNull();
        expect(await repo.getSandboxByName(org.id, "x' OR '1'='1")).toBeNull();
      });

      it('rejects a duplicate (org, name), a duplicate env and a missing secret with ConflictError', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        const first = await repo.createSandbox(sandboxRecord(org.id, { name: 'worker' }));
        await expect(repo.createSandbox(sandboxRecord(org.id, { name: 'worker' }))).rejects.toBeInstanceOf(ConflictError);
        await expect(repo.createSandbox(sandboxRecord(org.id, { id: first.id }))).rejects.toBeInstanceOf(ConflictError);
        await repo.createSandbox(sandboxRecord(org.id, { name: 'Worker' }));
        await repo.createSandbox(sandboxRecord(other.id, { name: 'worker' }));

        const twice = sandboxRecord(org.id, { mounts: [{ env: 'K', secretId: secret.id }, { env: 'K', secretId: secret.id }] });
        await expect(repo.createSandbox(twice)).rejects.toBeInstanceOf(ConflictError);
        const dangling = sandboxRecord(org.id, { mounts: [{ env: 'K', secretId: randomUUID() }] });
        await expect(repo.createSandbox(dangling)).rejects.toBeInstanceOf(ConflictError);
        // Creation is atomic: neither failed sandbox exists half-made.
        expect(await repo.getSandboxById(twice.id)).toBeNull();
        expect(await repo.getSandboxById(dangling.id)).toBeNull();
        expect((await repo.listSandboxes(org.id)).map((s) => s.name).sort()).toEqual(['Worker', 'worker']);
      });

      it('lists sandboxes of one org with their mounts', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        const one = await repo.createSandbox(sandboxRecord(org.id, { mounts: [{ env: 'KEY', secretId: secret.id }] }));
        const two = await repo.createSandbox(sandboxRecord(org.id, { createdAt: msDate(1) }));
        await repo.createSandbox(sandboxRecord(other.id));
        const listed = await repo.listSandboxes(org.id);
        expect(listed.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime())).toEqual([one, two]);
      });

      it('replaces mounts atomically, keeps their order and bumps updatedAt', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const a = await newSecret(repo, org.id);
        const b = await newSecret(repo, org.id);
        const foreign = await newSecret(repo, other.id);
        const sandbox = await repo.createSandbox(sandboxRecord(org.id, { mounts: [{ env: 'A', secretId: a.id }] }));

        const t1 = msDate(5000);
        const mounts = [
          { env: 'SECOND', secretId: b.id },
          { env: 'FIRST', secretId: a.id },
        ];
        const replaced = await repo.replaceSandboxMounts(org.id, sandbox.id, mounts, t1);
        expect(replaced).toEqual({ ...sandbox, mounts, updatedAt: t1 });
        expect(await repo.getSandboxById(sandbox.id)).toEqual({ ...sandbox, mounts, updatedAt: t1 });

        expect(await repo.replaceSandboxMounts(other.id, sandbox.id, [], msDate(6000))).toBeNull();
        expect(await repo.replaceSandboxMounts(org.id, randomUUID(), [], msDate(6000))).toBeNull();
        expect((await repo.getSandbox(org.id, sandbox.id))!.mounts).toEqual(mounts);

        // A mount of a secret from another org (or of no secret) fails and changes nothing.
        await expect(
          repo.replaceSandboxMounts(org.id, sandbox.id, [{ env: 'OK', secretId: a.id }, { env: 'BAD', secretId: foreign.id }], msDate(7000)),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          repo.replaceSandboxMounts(org.id, sandbox.id, [{ env: 'GONE', secretId: randomUUID() }], msDate(7000)),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          repo.replaceSandboxMounts(org.id, sandbox.id, [{ env: 'TWICE', secretId: a.id }, { env: 'TWICE', secretId: b.id }], msDate(7000)),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await repo.getSandbox(org.id, sandbox.id)).toEqual({ ...sandbox, mounts, updatedAt: t1 });

        const t2 = msDate(8000);
        expect(await repo.replaceSandboxMounts(org.id, sandbox.id, [], t2)).toEqual({ ...sandbox, mounts: [], updatedAt: t2 });
      });

      it('deletes a sandbox within its org only and keeps the mounted secrets', async () => {
        const org = await newOrg(repo);
        const other = await newOrg(repo);
        const secret = await newSecret(repo, org.id);
        const sandbox = await repo.createSandbox(sandboxRecord(org.id, { mounts: [{ env: 'KEY', secretId: secret.id }] }));
        expect(await repo.deleteSandbox(other.id, sandbox.id)).toBe(false);
        expect(await repo.getSandboxById(sandbox.id)).not.toBeNull();
        expect(await repo.deleteSandbox(org.id, sandbox.id)).toBe(true);
        expect(await repo.deleteSandbox(org.id, sandbox.id)).toBe(false);
        expect(await repo.getSandboxById(sandbox.id)).toBeNull();
        expect(await repo.getSecret(org.id, secret.id)).toEqual(secret);
        // The secret can now be deleted without leftovers blocking it.
        expect(await repo.deleteSecret(org.id, secret.id)).toBe(true);
      });
    });

    it('finds nothing (instead of failing) for keys containing NUL, as untrusted input may', async () => {
      const org = await newOrg(repo);
      const secret = await newSecret(repo, org.id);
      const sandbox = await repo.createSandbox(sandboxRecord(org.id, { mounts: [{ env: 'K', secretId: secret.id }] }));
      const nul = `${sandbox.id}\u0000`;
      expect(await repo.getSandboxById(nul)).toBeNull();
      expect(await repo.getSandbox(org.id, nul)).toBeNull();
      expect(await repo.getSandboxByName(org.id, `${sandbox.name}\u0000`)).toBeNull();
      expect(await repo.getApiKey('\u0000')).toBeNull();
      expect(await repo.getOrg(`${org.id}\u0000`)).toBeNull();
      expect(await repo.getOrgByName(`${org.name}\u0000`)).toBeNull();
      expect(await repo.getSecret(org.id, `${secret.id}\u0000`)).toBeNull();
      expect(await repo.getSecretByName(org.id, `${secret.name}\u0000`)).toBeNull();
      expect(await repo.updateSecret(org.id, `${secret.id}\u0000`, { description: 'x', updatedAt: msDate(1) })).toBeNull();
      expect(await repo.deleteSecret(org.id, `${secret.id}\u0000`)).toBe(false);
      expect(await repo.deleteSandbox(org.id, nul)).toBe(false);
      expect(await repo.replaceSandboxMounts(org.id, nul, [], msDate(1))).toBeNull();
      expect(await repo.getSandboxById(sandbox.id)).toEqual(sandbox);
    });

    it('keeps placeholders unique across the whole store', async () => {
      const org = await newOrg(repo);
      const placeholder = fakePlaceholder();
      await newSecret(repo, org.id, { placeholder });
      await expect(newSecret(repo, org.id, { placeholder })).rejects.toBeInstanceOf(ConflictError);
    });
  });
}
