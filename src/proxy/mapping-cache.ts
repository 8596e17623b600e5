import { LRUCache } from 'lru-cache';
import type { ChangeEvent, ChangeFeed } from '../events/types.js';
import type { SandboxSecrets, SecretResolver } from '../resolver/types.js';
import { compileSecrets } from '../substitution/compile.js';
import type { CompiledSecrets } from '../substitution/types.js';

export interface MappingCacheOptions {
  /** How long a lookup is fresh. Default 5 s. */
  ttlMs?: number;
  /** How long after expiry an entry may still be served while the resolver fails. Default 60 s. */
  staleMs?: number;
  /** Most sandboxes kept. Default 10 000. */
  maxEntries?: number;
  /** A lookup taking longer than this counts as failed (stale-serve or 503). Default 10 s. */
  lookupTimeoutMs?: number;
  /** Clock (ms); tests pass a controllable one. */
  now?: () => number;
}

/** A sandbox's secrets as the proxy uses them: compiled once per cache entry. */
export interface SandboxMapping {
  secrets: SandboxSecrets;
  compiled: CompiledSecrets;
}

interface Entry {
  mapping: SandboxMapping;
  fetchedAt: number;
}

/** The resolver failed and nothing usable was cached: the proxy answers 503 and forwards nothing. */
export class ResolverUnavailableError extends Error {
  constructor() {
    super('secret lookup is unavailable and no recent copy is cached');
    this.name = 'ResolverUnavailableError';
  }
}

/**
 * Per-sandbox mappings in an LRU with a freshness TTL, coalesced misses, change-feed invalidation and
 * bounded stale-serve. Freshness is tracked here (not with lru-cache's ttl) so a failed refresh can
 * still fall back to the expired copy for `staleMs`, and so tests can drive the clock.
 */
export class MappingCache {
  private readonly entries: LRUCache<string, Entry>;
  private readonly inflight = new Map<string, Promise<SandboxMapping | null>>();
  private readonly ttlMs: number;
  private readonly staleMs: number;
  private readonly lookupTimeoutMs: number;
  private readonly now: () => number;
  /** Bumped on every change event: a lookup started before it must not fill the cache. */
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly resolver: SecretResolver,
    feed: ChangeFeed | undefined,
    options: MappingCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.staleMs = options.staleMs ?? 60_000;
    this.lookupTimeoutMs = options.lookupTimeoutMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.entries = new LRUCache<string, Entry>({ max: options.maxEntries ?? 10_000 });
    this.unsubscribe = feed ? feed.subscribe((event) => this.invalidate(event)) : () => {};
  }

  /** Drops affected entries synchronously, so the very next request looks up again. */
  invalidate(event: ChangeEvent): void {
    this.generation += 1;
    this.inflight.clear();
    if (event.kind === 'reset') {
      this.entries.clear();
    } else if (event.kind === 'sandbox') {
      this.entries.delete(event.sandboxId);
    } else {
      for (const [sandboxId, entry] of this.entries.entries()) {
        if (entry.mapping.secrets.orgId === event.orgId) this.entries.delete(sandboxId);
      }
    }
  }

  /**
   * The sandbox's mapping; null when the sandbox does not exist. Throws ResolverUnavailableError when
   * the lookup fails and no entry is at most `staleMs` past its expiry.
   */
  async get(sandboxId: string): Promise<SandboxMapping | null> {
    const entry = this.entries.get(sandboxId);
    const now = this.now();
    if (entry && now - entry.fetchedAt < this.ttlMs) return entry.mapping;
    try {
      return await this.lookup(sandboxId);
    } catch {
      const stale = this.entries.get(sandboxId);
      if (stale && this.now() - stale.fetchedAt < this.ttlMs + this.staleMs) return stale.mapping;
      throw new ResolverUnavailableError();
    }
  }

  close(): void {
    this.unsubscribe();
    this.entries.clear();
    this.inflight.clear();
  }

  private lookup(sandboxId: string): Promise<SandboxMapping | null> {
    const pending = this.inflight.get(sandboxId);
    if (pending) return pending;
    const generation = this.generation;
    const promise = withTimeout(this.resolver.resolve(sandboxId), this.lookupTimeoutMs).then(
      (secrets) => {
        if (this.inflight.get(sandboxId) === promise) this.inflight.delete(sandboxId);
        if (secrets === null) {
          if (generation === this.generation) this.entries.delete(sandboxId);
          return null;
        }
        const mapping: SandboxMapping = { secrets, compiled: compileSecrets(secrets.secrets) };
        if (generation === this.generation) this.entries.set(sandboxId, { mapping, fetchedAt: this.now() });
        return mapping;
      },
      (error: unknown) => {
        if (this.inflight.get(sandboxId) === promise) this.inflight.delete(sandboxId);
        throw error;
      },
    );
    this.inflight.set(sandboxId, promise);
    return promise;
  }
}

/** A resolver that hangs must not hang every request behind it. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`secret lookup took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
