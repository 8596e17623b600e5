/** The SecureContext cache on its own, with real SecureContexts from a small factory. */
import { createSecureContext, type SecureContext } from 'node:tls';
import { expect, test } from 'vitest';
import { SecureContextCache } from '../../src/ca/context-cache.js';

test('a failed creation is not cached: the next call tries again', async () => {
  let calls = 0;
  const cache = new SecureContextCache(
    async (host) => {
      calls++;
      if (calls === 1) throw new Error(`first attempt for ${host} fails`);
      return createSecureContext({});
    },
    { max: 10, ttlMs: 60_000 },
  );
  const [first, joined] = await Promise.allSettled([cache.get('a.example'), cache.get('a.example')]);
  expect(first.status).toBe('rejected');
  expect(joined.status).toBe('rejected'); // joined the same failing attempt
  expect(calls).toBe(1);
  const context = await cache.get('a.example');
  expect(calls).toBe(2);
  expect(await cache.get('a.example')).toBe(context);
  expect(cache.stats()).toEqual({ created: 1, hits: 1, coalesced: 1, size: 1 });
});

test('entries expire after the TTL and are created again', async () => {
  const created: SecureContext[] = [];
  const cache = new SecureContextCache(
    async () => {
      const context = createSecureContext({});
      created.push(context);
      return context;
    },
    { max: 10, ttlMs: 30 },
  );
  const first = await cache.get('b.example');
  // Bounded wait: at most 50 polls of 20 ms for the 30 ms TTL to pass.
  let second = first;
  for (let attempt = 0; attempt < 50 && second === first; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    second = await cache.get('b.example');
  }
  expect(second).not.toBe(first);
  expect(created).toHaveLength(2);
});
