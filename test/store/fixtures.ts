import { randomBytes, randomUUID } from 'node:crypto';
import type { OrgRecord, Repository, SandboxRecord, SecretRecord } from '../../src/store/types.js';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A placeholder-shaped token; tests only need uniqueness, not the crypto module's sampler. */
export function fakePlaceholder(): string {
  const bytes = randomBytes(32);
  let out = 'veil_';
  for (const byte of bytes) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return out;
}

/** Dates with a non-zero millisecond part, to prove ms precision survives the round trip. */
export function msDate(offsetMs = 0): Date {
  return new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678) + offsetMs);
}

export async function newOrg(repo: Repository, name = `org-${randomUUID()}`): Promise<OrgRecord> {
  return repo.createOrg({ id: randomUUID(), name, createdAt: msDate() });
}

export function secretRecord(orgId: string, overrides: Partial<SecretRecord> = {}): SecretRecord {
  return {
    id: randomUUID(),
    orgId,
    name: `SECRET_${randomUUID().slice(0, 8)}`,
    description: 'a test secret',
    placeholder: fakePlaceholder(),
    hosts: ['api.example.com', '*.example.org'],
    locations: ['header', 'url'],
    // Arbitrary bytes incl. NUL and 0xff, like real ciphertext.
    encryptedValue: Buffer.concat([Buffer.from([0, 255, 1, 0]), randomBytes(28)]),
    createdAt: msDate(),
    updatedAt: msDate(),
    ...overrides,
  };
}

export async function newSecret(repo: Repository, orgId: string, overrides: Partial<SecretRecord> = {}): Promise<SecretRecord> {
  return repo.createSecret(secretRecord(orgId, overrides));
}

export function sandboxRecord(orgId: string, overrides: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    id: randomUUID(),
    orgId,
    name: `sandbox-${randomUUID().slice(0, 8)}`,
    mounts: [],
    proxyTokenHash: randomBytes(32).toString('hex'),
    createdAt: msDate(),
    updatedAt: msDate(),
    ...overrides,
  };
}
