/**
 * Response scrubbing: an allowed host that echoes the request (headers, Basic credentials, in plain,
 * chunked, gzip and br responses) never hands the real value back to the client; the client sees
 * the placeholder instead. Real curl through the intercepting proxy, real echo upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { assertNoValueLogged, lastReceived, makePlaceholder, mountExtraSecrets, startFixture, VALUES, type Fixture } from '../helpers/proxy-fixture.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

let fx: Fixture;
/** A value JSON escapes (quote, backslash, slash, non-ASCII) and percent-encodes. */
const AWKWARD_VALUE = 'awk "quoted" \\back/slash é+space value';
const AWKWARD_PLACEHOLDER = makePlaceholder();

beforeAll(async () => {
  fx = await startFixture();
  mountExtraSecrets(fx, [
    { secretId: 'id-AWKWARD', name: 'AWKWARD', env: 'AWKWARD', placeholder: AWKWARD_PLACEHOLDER, value: AWKWARD_VALUE, hosts: ['api.example.com'], locations: ['header', 'url'] },
  ]);
});
afterAll(async () => {
  assertNoValueLogged(fx);
  await fx.close();
});

const lastSeen = (): ReceivedRequest => lastReceived(fx.https);

function viaCurl(path: string, args: string[]) {
  return curl(`https://api.example.com:${fx.https.port}${path}`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile, ...args]);
}

/** Every form of `value` the scrubber promises to remove. */
function forbiddenForms(value: string): string[] {
  return [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
}

function expectNoValue(text: string, value: string): void {
  for (const form of forbiddenForms(value)) expect(text).not.toContain(form);
}

describe('response scrubbing (echo upstream on an allowed host)', () => {
  for (const path of ['/echo', '/chunked-echo', '/gzip-echo', '/br-echo']) {
    it(`replaces the value by its placeholder in headers and body (${path})`, async () => {
      const placeholder = fx.secrets.exact.placeholder;
      const result = await viaCurl(path, ['-H', `Authorization: Bearer ${placeholder}`, '-H', 'Accept-Encoding: gzip, br']);
      expect(result.status).toBe(200);
      // The upstream did get the value, and was asked for an identity response.
      expect(lastSeen().headers.authorization).toBe(`Bearer ${VALUES.exact}`);
      expect(lastSeen().headers['accept-encoding']).toBeUndefined();
      expectNoValue(result.headers + result.body, VALUES.exact);
      expect(result.headers).toMatch(new RegExp(`x-echoed-authorization: Bearer ${placeholder}`, 'i'));
      // The body is complete, decoded JSON: the client gets the echo with placeholders in it.
      const echoed = JSON.parse(result.body) as ReceivedRequest;
      expect(echoed.headers.authorization).toBe(`Bearer ${placeholder}`);
      expect(result.headers).not.toMatch(/content-encoding/i);
      if (path === '/echo') {
        // A small identity body is held, scrubbed whole and sent with its new exact length.
        expect(result.headers).toMatch(new RegExp(`content-length: ${Buffer.byteLength(result.body)}\\r?\\n`, 'i'));
      } else {
        expect(result.headers).not.toMatch(/content-length/i);
      }
    });
  }

  it('scrubs Basic credentials echoed back (curl -u user:PLACEHOLDER)', async () => {
    const placeholder = fx.secrets.exact.placeholder;
    const result = await viaCurl('/echo', ['-u', `deploy:${placeholder}`]);
    expect(result.status).toBe(200);
    expect(lastSeen().headers.authorization).toBe(`Basic ${Buffer.from(`deploy:${VALUES.exact}`).toString('base64')}`);
    const echoed = JSON.parse(result.body) as ReceivedRequest;
    const decoded = Buffer.from(String(echoed.headers.authorization).replace(/^Basic /, ''), 'base64').toString('latin1');
    expect(decoded).not.toContain(VALUES.exact);
    expect(decoded).toContain(placeholder.slice(3, 30));
    expect(result.body + result.headers).not.toContain(Buffer.from(`deploy:${VALUES.exact}`).toString('base64'));
  });

  it('scrubs JSON-escaped and percent-encoded forms of a value', async () => {
    // The URL form of the value is percent-encoded by the proxy; the echo shows it in `url` and,
    // JSON-escaped, in the header.
    const result = await viaCurl(`/echo?k=${AWKWARD_PLACEHOLDER}`, ['-H', `X-Key: ${AWKWARD_PLACEHOLDER}`]);
    expect(result.status).toBe(200);
    expect(lastSeen().url).not.toContain(AWKWARD_PLACEHOLDER);
    expect(Buffer.from(lastSeen().rawHeaders[lastSeen().rawHeaders.findIndex((name) => name.toLowerCase() === 'x-key') + 1]!, 'latin1').toString('utf8')).toBe(AWKWARD_VALUE);
    expectNoValue(result.body + result.headers, AWKWARD_VALUE);
    const echoed = JSON.parse(result.body) as ReceivedRequest;
    expect(echoed.url).toBe(`/echo?k=${AWKWARD_PLACEHOLDER}`);
  });

  it('refuses (502) a response it cannot decode when a value went upstream; relays it when none did', async () => {
    const refused = await viaCurl('/odd-encoding-echo', ['-H', `Authorization: Bearer ${fx.secrets.exact.placeholder}`]);
    expect(refused.status).toBe(502);
    expect(refused.body).toContain('cannot be checked for secret values');
    expectNoValue(refused.body + refused.headers, VALUES.exact);
    const relayed = await viaCurl('/odd-encoding-echo', ['-H', `X-Key: ${fx.secrets.othersOnly.placeholder}`]);
    expect(relayed.status).toBe(200);
    expect(relayed.headers).toMatch(/content-encoding: x-custom/i);
  });

  it('leaves responses alone when nothing was substituted (Content-Length kept, compression passed through)', async () => {
    const result = await viaCurl('/gzip-echo', ['-H', 'Accept-Encoding: gzip', '-H', `X-Key: ${fx.secrets.othersOnly.placeholder}`]);
    expect(result.status).toBe(200);
    expect(lastSeen().headers['accept-encoding']).toBe('gzip');
    expect(result.headers).toMatch(/content-encoding: gzip/i);
    expect(result.headers).toMatch(/content-length: \d+/i);
  });

  it('streams a scrubbed event-stream response without holding back a complete event', async () => {
    const proxy = `http://127.0.0.1:${fx.proxyPort}`;
    const { request: httpRequest } = await import('node:http');
    const seenBeforeRelease = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${proxy}`, {
        method: 'GET',
        path: `http://api.example.com:${fx.http.port}/hold`,
        headers: {
          Host: `api.example.com:${fx.http.port}`,
          'Proxy-Authorization': `Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
          Authorization: `Bearer ${fx.secrets.exact.placeholder}`,
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        let first: string | null = null;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (first === null && text.includes('data: first\n\n')) {
            first = text;
            fx.http.releaseHeld();
          }
        });
        res.on('end', () => {
          expect(text).toBe('data: first\n\ndata: second\n\n');
          resolve(first ?? '');
        });
      });
      req.end();
    });
    expect(fx.http.received.at(-1)!.headers.authorization).toBe(`Bearer ${VALUES.exact}`);
    // The first event reached the client while the upstream was still holding the second one.
    expect(seenBeforeRelease).toBe('data: first\n\n');
  });
});
