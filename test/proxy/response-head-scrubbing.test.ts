/**
 * The whole response head is scrubbed, not only header values (issue 12, defect 2): an upstream that
 * puts a value it received in its reason phrase (`HTTP/1.1 200 OK <value>`) or in a header name
 * (httpbin's `/response-headers?<value>=1`) hands the client the placeholder instead. A raw upstream
 * (node:net, node:tls for tunnels) writes those bytes; a raw client reads what the proxy relayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import { rawRequest, rawTunnelRequest, startRawUpstream, type RawUpstream } from '../helpers/raw-http.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

const value = VALUES.exact;
/** Reason phrase and header names carrying the value; a small body (held, sent with its length). */
const SIZED = `HTTP/1.1 200 OK ${value}\r\nX-${value}: 1\r\n${value}: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`;
/** The same head on a chunked body (streamed to the client). */
const CHUNKED = `HTTP/1.1 200 OK ${value}\r\nX-${value}: 1\r\n${value}: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\n\r\n`;

/** An Upgrade accepted (101) and one declined (401), with the value in the reason phrase and a name. */
const SWITCHED = `HTTP/1.1 101 Switching ${value}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-${value}: 1\r\n\r\n`;
const DECLINED = `HTTP/1.1 401 No ${value}\r\nX-${value}: 1\r\nContent-Length: 2\r\n\r\nno`;

const upstreams: Record<string, { plain: RawUpstream; tls: RawUpstream }> = {};
beforeAll(async () => {
  const leaf = fx.upstreamCa.issue(['api.example.com']);
  for (const [name, response] of Object.entries({ sized: SIZED, chunked: CHUNKED, switched: SWITCHED, declined: DECLINED })) {
    upstreams[name] = { plain: await startRawUpstream(response), tls: await startRawUpstream(response, leaf) };
  }
});
afterAll(async () => {
  for (const pair of Object.values(upstreams)) await Promise.all([pair.plain.close(), pair.tls.close()]);
});

const proxyAuthorization = () => `Basic ${Buffer.from(fx.userinfo).toString('base64')}`;

function expectScrubbedHead(answer: string, placeholder: string): void {
  expect(answer).not.toContain(value);
  const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
  expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 200 OK ${placeholder}`);
  expect(head).toMatch(new RegExp(`\\r\\nX-${placeholder}: 1\\r\\n`));
  expect(head).toMatch(new RegExp(`\\r\\n${placeholder}: 2\\r\\n`));
  expect(answer).toMatch(/\r\n\r\n(2\r\n)?ok/);
}

describe('response status line and header names are scrubbed', () => {
  for (const kind of ['sized', 'chunked'] as const) {
    it(`plain HTTP, ${kind} body`, async () => {
      const upstream = upstreams[kind]!.plain;
      const placeholder = fx.secrets.exact.placeholder;
      const answer = await rawRequest(
        fx.proxyPort,
        `GET http://api.example.com:${upstream.port}/response-headers HTTP/1.1\r\nHost: api.example.com:${upstream.port}\r\n` +
          `Authorization: Bearer ${placeholder}\r\nProxy-Authorization: ${proxyAuthorization()}\r\nConnection: close\r\n\r\n`,
      );
      // The value did go upstream (so the answer is checked for it).
      expect(upstream.heads.at(-1)).toContain(`Authorization: Bearer ${value}`);
      expectScrubbedHead(answer, placeholder);
    });

    it(`inside a CONNECT tunnel, ${kind} body`, async () => {
      const upstream = upstreams[kind]!.tls;
      const placeholder = fx.secrets.exact.placeholder;
      const { connectStatus, answer } = await rawTunnelRequest(
        fx.proxyPort,
        `api.example.com:${upstream.port}`,
        proxyAuthorization(),
        fx.veilCa.certPem,
        `GET /response-headers HTTP/1.1\r\nHost: api.example.com:${upstream.port}\r\nAuthorization: Bearer ${placeholder}\r\nConnection: close\r\n\r\n`,
      );
      expect(connectStatus).toMatch(/ 200 /);
      expect(upstream.heads.at(-1)).toContain(`Authorization: Bearer ${value}`);
      expectScrubbedHead(answer, placeholder);
    });
  }
});

describe('Upgrade answers: status line and header names are scrubbed', () => {
  for (const [kind, status] of [['switched', '101 Switching'], ['declined', '401 No']] as const) {
    it(`${status.split(' ')[0]} (plain)`, async () => {
      const upstream = upstreams[kind]!.plain;
      const placeholder = fx.secrets.exact.placeholder;
      const answer = await rawRequest(
        fx.proxyPort,
        `GET http://api.example.com:${upstream.port}/ws HTTP/1.1\r\nHost: api.example.com:${upstream.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Authorization: Bearer ${placeholder}\r\nProxy-Authorization: ${proxyAuthorization()}\r\n\r\n`,
      );
      expect(upstream.heads.at(-1)).toContain(`Authorization: Bearer ${value}`);
      expect(answer).not.toContain(value);
      expect(answer.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${placeholder}`);
      expect(answer).toContain(`\r\nX-${placeholder}: 1\r\n`);
    });
  }
});
