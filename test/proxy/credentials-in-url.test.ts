/**
 * Credentials in Basic auth and URLs, end to end with curl through the intercepting proxy:
 * `-u user:PLACEHOLDER`, `https://user:PLACEHOLDER@host/` (curl turns userinfo into Basic), a
 * placeholder as the Basic user name, and percent-encoded placeholders in the path and query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { lastReceived, VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

const lastSeen = (): ReceivedRequest => lastReceived(fx.https);

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

function viaCurl(url: string, args: string[] = []) {
  return curl(url, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile, ...args]);
}

describe('Basic auth and URL credentials', () => {
  it('curl -u user:PLACEHOLDER: the allowed host gets Basic base64(user:value)', async () => {
    const result = await viaCurl(`https://api.example.com:${fx.https.port}/basic`, ['-u', `deploy:${fx.secrets.exact.placeholder}`]);
    expect(result.status).toBe(200);
    expect(lastSeen().headers.authorization).toBe(basic(`deploy:${VALUES.exact}`));
  });

  it('https://user:PLACEHOLDER@host/ (userinfo in the URL) becomes Basic with the value', async () => {
    const result = await viaCurl(`https://deploy:${fx.secrets.exact.placeholder}@api.example.com:${fx.https.port}/userinfo`);
    expect(result.status).toBe(200);
    expect(lastSeen().headers.authorization).toBe(basic(`deploy:${VALUES.exact}`));
  });

  it('a placeholder as the Basic user name is substituted too', async () => {
    await viaCurl(`https://api.example.com:${fx.https.port}/user`, ['-u', `${fx.secrets.exact.placeholder}:x-oauth-basic`]);
    expect(lastSeen().headers.authorization).toBe(basic(`${VALUES.exact}:x-oauth-basic`));
  });

  it('Basic credentials go unchanged to a host that is not on the allowlist', async () => {
    await viaCurl(`https://other.example.com:${fx.https.port}/basic`, ['-u', `deploy:${fx.secrets.exact.placeholder}`]);
    expect(lastSeen().headers.authorization).toBe(basic(`deploy:${fx.secrets.exact.placeholder}`));
  });

  it('finds percent-encoded placeholders in the path and the query', async () => {
    const placeholder = fx.secrets.exact.placeholder;
    const encoded = [...placeholder].map((char, index) => (index % 3 === 0 ? `%${char.charCodeAt(0).toString(16).toUpperCase()}` : char)).join('');
    const result = await viaCurl(`https://api.example.com:${fx.https.port}/keys/${encoded}?key=${encoded}`, ['--path-as-is']);
    expect(result.status).toBe(200);
    expect(lastSeen().url).toBe(`/keys/${VALUES.exact}?key=${VALUES.exact}`);
  });
});
