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

describe('disallowed = block', () => {
  it('answers 403 naming the secret and host, never the value, and forwards nothing', async () => {
    fx = await startFixture({ disallowed: 'block' });
    const result = await curl(`https://other.example.com:${fx.https.port}/`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--cacert', fx.veilCa.certFile,
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.status).toBe(403);
    expect(result.body).toContain('EXACT_KEY');
    expect(result.body).toContain('other.example.com');
    expect(result.body).not.toContain(VALUES.exact);
    expect(fx.https.received).toHaveLength(0);

    // Allowed host still goes through in block mode.
    const allowed = await curl(`http://api.example.com:${fx.http.port}/`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(allowed.status).toBe(200);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
  });
});

describe('sidecar mode', () => {
  it('needs no credentials: every request is the configured sandbox', async () => {
    fx = await startFixture({ sandboxId: 'sbx-main' });
    const plain = await curl(`http://api.example.com:${fx.http.port}/side`, ['-x', `http://127.0.0.1:${fx.proxyPort}`, '-H', `X-Key: ${fx.secrets.exact.placeholder}`]);
    expect(plain.status).toBe(200);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
    const secure = await curl(`https://api.example.com:${fx.https.port}/side`, [
      '-x', `http://127.0.0.1:${fx.proxyPort}`,
      '--cacert', fx.veilCa.certFile,
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(secure.status, secure.stderr).toBe(200);
    expect(fx.https.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
    // The other sandbox's secret is not this sidecar's.
    await curl(`http://api.example.com:${fx.http.port}/side`, ['-x', `http://127.0.0.1:${fx.proxyPort}`, '-H', `X-Key: ${fx.secrets.othersOnly.placeholder}`]);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(fx.secrets.othersOnly.placeholder);
  });
});

describe('allowUnrestrictedSecrets', () => {
  it('substitutes a secret without hosts anywhere when enabled', async () => {
    fx = await startFixture({ allowUnrestrictedSecrets: true });
    await curl(`http://elsewhere.test:${fx.http.port}/`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '-H', `X-Key: ${fx.secrets.everywhere.placeholder}`]);
    expect(fx.http.received.at(-1)!.headers['x-key']).toBe(VALUES.everywhere);
  });
});

describe('nonTlsConnect = deny', () => {
  it('closes a CONNECT whose first bytes are not TLS, sending nothing upstream', async () => {
    fx = await startFixture({ nonTlsConnect: 'deny' });
    const result = await curl(`http://api.example.com:${fx.http.port}/raw`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--proxytunnel',
    ]);
    expect(result.status).not.toBe(200);
    expect(result.exitCode).not.toBe(0);
    expect(fx.http.connections).toBe(0);
    // TLS CONNECTs are still intercepted.
    const secure = await curl(`https://api.example.com:${fx.https.port}/`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--cacert', fx.veilCa.certFile,
    ]);
    expect(secure.status, secure.stderr).toBe(200);
  });
});
