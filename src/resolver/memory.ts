import type { SandboxSecrets, SecretResolver } from './types.js';

/**
 * A real in-memory resolver: static configuration for `veil proxy`, and the resolver tests drive.
 * `failWith(error)` makes every lookup reject (a control plane that is down) until `recover()`.
 */
export class MemoryResolver implements SecretResolver {
  private readonly sandboxes = new Map<string, SandboxSecrets>();
  private failure: Error | null = null;
  /** How many lookups were made (tests use it to see caching and coalescing). */
  lookups = 0;

  constructor(initial: Iterable<SandboxSecrets> = []) {
    for (const sandbox of initial) this.set(sandbox);
  }

  set(sandbox: SandboxSecrets): void {
    this.sandboxes.set(sandbox.sandboxId, structuredClone(sandbox));
  }

  delete(sandboxId: string): boolean {
    return this.sandboxes.delete(sandboxId);
  }

  failWith(error: Error = new Error('resolver unavailable')): void {
    this.failure = error;
  }

  recover(): void {
    this.failure = null;
  }

  async resolve(sandboxId: string): Promise<SandboxSecrets | null> {
    this.lookups += 1;
    if (this.failure) throw this.failure;
    const found = this.sandboxes.get(sandboxId);
    // A copy, so a caller mutating its result never changes what the next lookup sees.
    return found ? structuredClone(found) : null;
  }
}
