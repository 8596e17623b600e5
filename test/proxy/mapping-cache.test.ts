import { describe, expect, it } from 'vitest';
import { LocalChangeFeed } from '../../src/events/local-feed.js';
import { MappingCache, ResolverUnavailableError } from '../../src/proxy/mapping-cache.js';
import { MemoryResolver } from '../../src/resolver/memory.js';
import type { SandboxSecrets, SecretResolver } from '../../src/resolver/types.js';
import { secret, sha256Hex } from '../helpers/proxy-fixture.js';

function sandbox(id: string, orgId: string, value = 'v-1'): SandboxSecrets {
  return { sandboxId: id, orgId, proxyTokenHash: sha256Hex('t'), secrets: [secret('KEY', value, ['api.example.com'])] };
}

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/**
 * Reads the inner resolver at call time but delivers only when the test says so: to observe
 * coalescing and races between a slow lookup and invalidation.
 */
class GatedResolver implements SecretResolver {
  readonly pending: { id: string; release: () => Promise<void> }[] = [];
  constructor(private readonly inner: MemoryResolver) {}
  resolve(id: string): Promise<SandboxSecrets | null> {
    const answer = this.inner.resolve(id);
    return new Promise((resolve, reject) => {
      this.pending.push({ id, release: () => answer.then(resolve, reject) });
    });
  }
  releaseAll(): void {
    for (const entry of this.pending.splice(0)) void entry.release();
  }
  /** Delivers the newest pending lookup first. */
  async releaseNewestFirst(): Promise<void> {
    for (const entry of this.pending.splice(0).reverse()) {
      await entry.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

describe('MappingCache', () => {
  it('serves fresh entries from memory and looks up again after the TTL', async () => {
    const resolver = new MemoryResolver([sandbox('a', 'org')]);
    const time = clock();
    const cache = new MappingCache(resolver, undefined, { ttlMs: 1_000, now: time.now });
    const first = await cache.get('a');
    expect(first?.compiled.byPlaceholder.size).toBe(1);
    await cache.get('a');
    expect(resolver.lookups).toBe(1);
    time.advance(1_000);
    await cache.get('a');
    expect(resolver.lookups).toBe(2);
  });

  it('coalesces concurrent misses into one lookup', async () => {
    const inner = new MemoryResolver([sandbox('a', 'org')]);
    const gated = new GatedResolver(inner);
    const cache = new MappingCache(gated, undefined);
    const all = Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    expect(gated.pending).toHaveLength(1);
    gated.releaseAll();
    const results = await all;
    expect(new Set(results).size).toBe(1);
    expect(inner.lookups).toBe(1);
  });

  it('does not cache unknown sandboxes (a sandbox created a moment later works at once)', async () => {
    const resolver = new MemoryResolver();
    const cache = new MappingCache(resolver, undefined);
    expect(await cache.get('new')).toBeNull();
    resolver.set(sandbox('new', 'org'));
    expect(await cache.get('new')).not.toBeNull();
  });

  it('sandbox, secret (same org only) and reset events drop entries synchronously', async () => {
    const resolver = new MemoryResolver([sandbox('a', 'org1'), sandbox('b', 'org1'), sandbox('c', 'org2')]);
    const feed = new LocalChangeFeed();
    const cache = new MappingCache(resolver, feed, { ttlMs: 60_000 });
    await Promise.all(['a', 'b', 'c'].map((id) => cache.get(id)));
    expect(resolver.lookups).toBe(3);

    feed.publish({ kind: 'sandbox', orgId: 'org1', sandboxId: 'a' });
    await Promise.all(['a', 'b', 'c'].map((id) => cache.get(id)));
    expect(resolver.lookups).toBe(4);

    feed.publish({ kind: 'secret', orgId: 'org1', secretId: 'x' });
    await Promise.all(['a', 'b', 'c'].map((id) => cache.get(id)));
    expect(resolver.lookups).toBe(6);

    feed.publish({ kind: 'reset' });
    await Promise.all(['a', 'b', 'c'].map((id) => cache.get(id)));
    expect(resolver.lookups).toBe(9);
    cache.close();
    feed.publish({ kind: 'reset' });
  });

  it('a lookup that started before an event does not fill the cache with the old mapping', async () => {
    const inner = new MemoryResolver([sandbox('a', 'org', 'old')]);
    const gated = new GatedResolver(inner);
    const feed = new LocalChangeFeed();
    const cache = new MappingCache(gated, feed, { ttlMs: 60_000 });
    const early = cache.get('a'); // reads 'old'
    inner.set(sandbox('a', 'org', 'new'));
    feed.publish({ kind: 'sandbox', orgId: 'org', sandboxId: 'a' });
    const late = cache.get('a'); // reads 'new'
    expect(gated.pending).toHaveLength(2);
    // The late answer arrives first, the stale early one after it: it must not overwrite.
    await gated.releaseNewestFirst();
    expect((await late)?.secrets.secrets[0]?.value).toBe('new');
    expect((await early)?.secrets.secrets[0]?.value).toBe('old');
    // Served from cache now: the late (post-event) lookup is what was stored.
    const lookups = inner.lookups;
    expect((await cache.get('a'))?.secrets.secrets[0]?.value).toBe('new');
    expect(inner.lookups).toBe(lookups);
  });

  it('fails closed without a cached entry, serves stale within the bound, then fails closed', async () => {
    const resolver = new MemoryResolver([sandbox('a', 'org')]);
    const time = clock();
    const cache = new MappingCache(resolver, undefined, { ttlMs: 100, staleMs: 1_000, now: time.now });
    resolver.failWith();
    await expect(cache.get('a')).rejects.toBeInstanceOf(ResolverUnavailableError);
    resolver.recover();
    await cache.get('a');
    resolver.failWith();
    time.advance(1_099);
    expect(await cache.get('a')).not.toBeNull();
    time.advance(1);
    await expect(cache.get('a')).rejects.toBeInstanceOf(ResolverUnavailableError);
  });

  it('a lookup that hangs counts as failed: stale copy within the bound, else unavailable', async () => {
    const inner = new MemoryResolver([sandbox('a', 'org')]);
    const gated = new GatedResolver(inner);
    const time = clock();
    const cache = new MappingCache(gated, undefined, { ttlMs: 100, staleMs: 1_000, lookupTimeoutMs: 50, now: time.now });
    await expect(cache.get('a')).rejects.toBeInstanceOf(ResolverUnavailableError);
    const filled = cache.get('a');
    gated.releaseAll();
    await filled;
    time.advance(200);
    // The refresh never comes back; the stale copy is served once the lookup times out.
    expect((await cache.get('a'))?.secrets.sandboxId).toBe('a');
  });

  it('keeps at most maxEntries sandboxes', async () => {
    const resolver = new MemoryResolver(['a', 'b', 'c'].map((id) => sandbox(id, 'org')));
    const cache = new MappingCache(resolver, undefined, { maxEntries: 2, ttlMs: 60_000 });
    for (const id of ['a', 'b', 'c']) await cache.get(id);
    expect(resolver.lookups).toBe(3);
    await cache.get('a'); // evicted as least recently used
    expect(resolver.lookups).toBe(4);
  });
});
