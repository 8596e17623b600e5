import { afterEach, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { assertNoValueLogged, startFixture, VALUES, type Fixture } from '../helpers/proxy-fixture.js';

let fx: Fixture | undefined;
afterEach(async () => {
  if (fx) {
    assertNoValueLogged(fx);
    await fx.close();
  }
  fx = undefined;
});

/** A clock the test moves by hand, so freshness and staleness never depend on real time. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function plainGet(f: Fixture, placeholder: string) {
  return curl(`http://api.example.com:${f.http.port}/`, ['-x', `http://${f.userinfo}@127.0.0.1:${f.proxyPort}`, '-H', `X-Key: ${placeholder}`]);
}

function secureGet(f: Fixture, placeholder: string) {
  return curl(`https://api.example.com:${f.https.port}/`, [
    '-x', `http://${f.userinfo}@127.0.0.1:${f.proxyPort}`,
    '--cacert', f.veilCa.certFile,
    '-H', `X-Key: ${placeholder}`,
  ]);
}

describe('resolver failures', () => {
  it('answers 503 and forwards nothing when the lookup fails with nothing cached (plain and CONNECT)', async () => {
    fx = await startFixture();
    fx.resolver.failWith(new Error('control plane down'));
    const plain = await plainGet(fx, fx.secrets.exact.placeholder);
    expect(plain.status).toBe(503);
    expect(plain.body).toMatch(/unavailable/);
    const secure = await secureGet(fx, fx.secrets.exact.placeholder);
    expect(secure.connectStatus).toBe(503);
    expect(fx.http.connections + fx.https.connections).toBe(0);
  });

  it('serves a stale entry for at most staleMs after expiry, then fails closed', async () => {
    const clock = manualClock();
    fx = await startFixture({ cache: { ttlMs: 1_000, staleMs: 10_000, now: clock.now } });
    expect((await plainGet(fx, fx.secrets.exact.placeholder)).status).toBe(200);
    fx.resolver.failWith();
    clock.advance(5_000); // expired, within the stale bound
    const stale = await plainGet(fx, fx.secrets.exact.placeholder);
    expect(stale.status).toBe(200);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
    clock.advance(7_000); // 12 s after fetch: beyond ttl + stale
    const before = fx.http.received.length;
    const closed = await plainGet(fx, fx.secrets.exact.placeholder);
    expect(closed.status).toBe(503);
    expect(fx.http.received.length).toBe(before);
    fx.resolver.recover();
    expect((await plainGet(fx, fx.secrets.exact.placeholder)).status).toBe(200);
  });

  it('a feed event drops the entry: the very next request sees the change', async () => {
    const clock = manualClock();
    fx = await startFixture({ cache: { ttlMs: 60_000, now: clock.now } });
    await plainGet(fx, fx.secrets.exact.placeholder);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);

    // Unmount the secret: the cache would serve the old mapping for a minute without the event.
    fx.resolver.set({ ...fx.sandbox, secrets: fx.sandbox.secrets.filter((s) => s.name !== 'EXACT_KEY') });
    await plainGet(fx, fx.secrets.exact.placeholder);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
    fx.feed.publish({ kind: 'sandbox', orgId: fx.sandbox.orgId, sandboxId: fx.sandbox.sandboxId });
    await plainGet(fx, fx.secrets.exact.placeholder);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(fx.secrets.exact.placeholder);

    // A secret event of the org drops every sandbox of that org (a rotated value shows at once).
    fx.resolver.set({ ...fx.sandbox, secrets: fx.sandbox.secrets.map((s) => (s.name === 'EXACT_KEY' ? { ...s, value: 'rotated-VALUE-1' } : s)) });
    fx.feed.publish({ kind: 'secret', orgId: fx.sandbox.orgId, secretId: fx.secrets.exact.secretId });
    await secureGet(fx, fx.secrets.exact.placeholder);
    expect(fx.https.received.at(-1)!.headers['x-key']).toBe('rotated-VALUE-1');

    // Deleting the sandbox + reset: 407 on the next request.
    fx.resolver.delete(fx.sandbox.sandboxId);
    fx.feed.publish({ kind: 'reset' });
    expect((await plainGet(fx, fx.secrets.exact.placeholder)).status).toBe(407);
  });

  it('an invalidated entry is not served stale while the resolver is down', async () => {
    const clock = manualClock();
    fx = await startFixture({ cache: { ttlMs: 60_000, now: clock.now } });
    expect((await plainGet(fx, fx.secrets.exact.placeholder)).status).toBe(200);
    fx.resolver.failWith();
    fx.feed.publish({ kind: 'secret', orgId: fx.sandbox.orgId, secretId: fx.secrets.exact.secretId });
    expect((await plainGet(fx, fx.secrets.exact.placeholder)).status).toBe(503);
  });
});
