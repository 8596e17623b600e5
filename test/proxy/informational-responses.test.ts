/**
 * 1xx answers before the final one (issue 12, defect 4): `103 Early Hints` and `102 Processing` from
 * the upstream used to leave the client with zero bytes and a closed connection. Now 103 is relayed
 * (its Link headers, scrubbed when a value went upstream), 102 too, to HTTP/1.1 clients; then the
 * final answer. An unsolicited 100 Continue, which undici refuses, is a clear 502. A raw upstream
 * writes the bytes; raw clients (plain and in a tunnel) and curl read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import { rawRequest, rawTunnelRequest, startRawUpstream, type RawUpstream } from '../helpers/raw-http.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

const value = VALUES.exact;
const FINAL = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
const RESPONSES = {
  earlyHints: `HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n${FINAL}`,
  processing: `HTTP/1.1 102 Processing\r\n\r\n${FINAL}`,
  both: `HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n${FINAL}`,
  /** Early hints that echo the value the request carried. */
  echoing: `HTTP/1.1 103 Early Hints\r\nLink: </t?k=${value}>; rel=preload\r\nX-${value}: 1\r\n\r\n${FINAL}`,
  /** A Link Node cannot relay as Early Hints (quoted parameter with a space): the 103 is dropped. */
  oddLink: `HTTP/1.1 103 Early Hints\r\nLink: </x>; title="a b"\r\n\r\n${FINAL}`,
  /** Early hints without a Link: nothing to relay, dropped. */
  noLink: `HTTP/1.1 103 Early Hints\r\nX-Other: 1\r\n\r\n${FINAL}`,
  /** 100 Continue to a request that sent no Expect: undici (the proxy's HTTP client) refuses the exchange. */
  unsolicitedContinue: `HTTP/1.1 100 Continue\r\n\r\n${FINAL}`,
};
type Kind = keyof typeof RESPONSES;

const upstreams = {} as Record<Kind, { plain: RawUpstream; tls: RawUpstream }>;
beforeAll(async () => {
  const leaf = fx.upstreamCa.issue(['api.example.com']);
  for (const [kind, response] of Object.entries(RESPONSES) as [Kind, string][]) {
    upstreams[kind] = { plain: await startRawUpstream(response), tls: await startRawUpstream(response, leaf) };
  }
});
afterAll(async () => {
  for (const pair of Object.values(upstreams)) await Promise.all([pair.plain.close(), pair.tls.close()]);
});

const proxyAuthorization = () => `Basic ${Buffer.from(fx.userinfo).toString('base64')}`;

function plain(kind: Kind, { version = '1.1', authorization = '' } = {}): Promise<string> {
  const port = upstreams[kind].plain.port;
  return rawRequest(
    fx.proxyPort,
    `GET http://api.example.com:${port}/ HTTP/${version}\r\nHost: api.example.com:${port}\r\n${authorization}` +
      `Proxy-Authorization: ${proxyAuthorization()}\r\nConnection: close\r\n\r\n`,
  );
}

async function tunnelled(kind: Kind, authorization = ''): Promise<string> {
  const port = upstreams[kind].tls.port;
  const { connectStatus, answer } = await rawTunnelRequest(
    fx.proxyPort,
    `api.example.com:${port}`,
    proxyAuthorization(),
    fx.veilCa.certPem,
    `GET / HTTP/1.1\r\nHost: api.example.com:${port}\r\n${authorization}Connection: close\r\n\r\n`,
  );
  expect(connectStatus).toMatch(/ 200 /);
  return answer;
}

/** The final answer, complete, after whatever 1xx heads came first. */
function expectFinal(answer: string): void {
  const final = answer.slice(answer.indexOf('HTTP/1.1 200 '));
  expect(answer).toContain('HTTP/1.1 200 OK\r\n');
  expect(final).toMatch(/\r\ncontent-length: 5\r\n/i);
  expect(final.endsWith('\r\n\r\nhello')).toBe(true);
}

describe('informational (1xx) answers before the final one', () => {
  for (const [where, send] of [['plain', (kind: Kind, authorization?: string) => plain(kind, { authorization })], ['in a tunnel', tunnelled]] as const) {
    it(`relays 103 Early Hints, then the final answer (${where})`, async () => {
      const answer = await send('earlyHints');
      expect(answer.startsWith('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true);
      expectFinal(answer);
    });

    it(`relays 102 Processing, then the final answer (${where})`, async () => {
      const answer = await send('processing');
      expect(answer.startsWith('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true);
      expectFinal(answer);
    });

    it(`relays two 1xx in a row (${where})`, async () => {
      const answer = await send('both');
      expect(answer.startsWith('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload, </b.js>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true);
      expectFinal(answer);
    });

    it(`scrubs early hints that echo a value the request carried (${where})`, async () => {
      const placeholder = fx.secrets.exact.placeholder;
      const answer = await send('echoing', `Authorization: Bearer ${placeholder}\r\n`);
      expect(upstreams.echoing[where === 'plain' ? 'plain' : 'tls'].heads.at(-1)).toContain(`Bearer ${value}`);
      expect(answer).not.toContain(value);
      expect(answer.startsWith(`HTTP/1.1 103 Early Hints\r\nLink: </t?k=${placeholder}>; rel=preload\r\n\r\n`)).toBe(true);
      expectFinal(answer);
    });

    for (const kind of ['oddLink', 'noLink'] as const) {
      it(`drops early hints it cannot relay (${kind}), the final answer still comes (${where})`, async () => {
        const answer = await send(kind);
        expect(answer.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
        expectFinal(answer);
      });
    }
  }

  it('sends an HTTP/1.0 client no 1xx (RFC 9110 §15.2), only the final answer', async () => {
    const answer = await plain('both', { version: '1.0' });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).not.toContain(' 102 ');
    expect(answer).not.toContain(' 103 ');
    expect(answer.endsWith('\r\n\r\nhello')).toBe(true);
  });

  it('answers a clear 502 (and logs it) to an unsolicited 100 Continue, which undici cannot take, and keeps serving', async () => {
    const answer = await plain('unsolicitedContinue');
    expect(answer).toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).toContain('unexpected response (such as 100 Continue');
    expect(fx.logs.some((line) => line.includes('"status":502') && line.includes('unexpected response'))).toBe(true);
    expectFinal(await plain('earlyHints'));
  });

  it('curl gets the final answer after 103 Early Hints, plain and through a tunnel', async () => {
    const viaPlain = await curl(`http://api.example.com:${upstreams.earlyHints.plain.port}/`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(viaPlain.status).toBe(200);
    expect(viaPlain.body).toBe('hello');
    const viaTunnel = await curl(`https://api.example.com:${upstreams.both.tls.port}/`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile]);
    expect(viaTunnel.status).toBe(200);
    expect(viaTunnel.body).toBe('hello');
  });
});
