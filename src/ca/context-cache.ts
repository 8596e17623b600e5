/**
 * SecureContexts per host: an LRU (bounded size, TTL well under the leaf validity) in front of an
 * async factory. Concurrent misses for one host share one in-flight promise; a failed creation is
 * not cached, so the next handshake tries again.
 */
import type { SecureContext } from 'node:tls';
import { LRUCache } from 'lru-cache';

export interface ContextCacheStats {
  /** Contexts created (leaves minted) since start. */
  created: number;
  hits: number;
  /** Calls that joined a creation already in flight. */
  coalesced: number;
  size: number;
}

export class SecureContextCache {
  private readonly cache: LRUCache<string, SecureContext>;
  private readonly inFlight = new Map<string, Promise<SecureContext>>();
  private readonly counters = { created: 0, hits: 0, coalesced: 0 };

  constructor(
    private readonly create: (host: string) => Promise<SecureContext>,
    options: { max: number; ttlMs: number },
  ) {
    this.cache = new LRUCache<string, SecureContext>({ max: options.max, ttl: options.ttlMs, ttlAutopurge: false });
  }

  get(host: string): Promise<SecureContext> {
    const cached = this.cache.get(host);
    if (cached) {
      this.counters.hits++;
      return Promise.resolve(cached);
    }
    const pending = this.inFlight.get(host);
    if (pending) {
      this.counters.coalesced++;
      return pending;
    }
    const creation = this.create(host).then(
      (context) => {
        this.counters.created++;
        this.cache.set(host, context);
        this.inFlight.delete(host);
        return context;
      },
      (error: unknown) => {
        this.inFlight.delete(host);
        throw error;
      },
    );
    this.inFlight.set(host, creation);
    return creation;
  }

  stats(): ContextCacheStats {
    return { ...this.counters, size: this.cache.size };
  }
}
