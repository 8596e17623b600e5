/** In-process resolver: reads a sandbox and its mounted secrets from the store and decrypts them. */
import { decryptValue } from '../crypto/envelope.js';
import type { Repository } from '../store/types.js';
import type { ResolvedSecret, SandboxSecrets, SecretResolver } from './types.js';

export class LocalResolver implements SecretResolver {
  constructor(
    private readonly repo: Repository,
    private readonly masterKey: Buffer,
  ) {}

  async resolve(sandboxId: string): Promise<SandboxSecrets | null> {
    const sandbox = await this.repo.getSandboxById(sandboxId);
    if (!sandbox) return null;
    const secrets: ResolvedSecret[] = [];
    for (const mount of sandbox.mounts) {
      const secret = await this.repo.getSecret(sandbox.orgId, mount.secretId);
      if (!secret) continue; // deleted between the two reads; its mounts are gone too
      let value: string;
      try {
        value = decryptValue(this.masterKey, { orgId: secret.orgId, secretId: secret.id }, secret.encryptedValue);
      } catch (error) {
        // Names only: the error text of decryptValue never holds plaintext either.
        throw new Error(`cannot decrypt secret "${secret.name}" (${secret.id}): ${(error as Error).message}`);
      }
      secrets.push({
        secretId: secret.id,
        name: secret.name,
        env: mount.env,
        placeholder: secret.placeholder,
        value,
        hosts: [...secret.hosts],
        locations: [...secret.locations],
      });
    }
    return { sandboxId: sandbox.id, orgId: sandbox.orgId, proxyTokenHash: sandbox.proxyTokenHash, secrets };
  }
}
