/**
 * Host header forgery (issue 12, defect 1). The upstream must get exactly the authority Veil routed
 * to (RFC 9112 §3.2.2), never the Host the client wrote: a Host that is not a plain `host[:port]` is
 * refused with 400, one naming another host with 421, and nothing is forwarded. Plain requests and
 * requests inside a CONNECT tunnel alike; a raw-socket client writes the forged bytes, curl too.
 */
import { describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { headerValue, lastReceived, VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import { rawRequest, rawTunnelRequest } from '../helpers/raw-http.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

/** Requests that reached any upstream of the fixture: a refused request must reach none of them. */
const everywhere = () => fx.http.received.length + fx.https.received.length + fx.untrusted.received.length;

const proxyAuthorization = () => `Basic ${Buffer.from(fx.userinfo).toString('base64')}`;

/** Hosts that a URL parser reads as api.example.com but an upstream may read otherwise. */
const forgedHosts = (port: number) => [
  `evil.test@api.example.com:${port}`,
  `api.example.com:${port}/evil.test`,
  `api.example.com:${port}#evil.test`,
  `api.example.com:${port}\\evil.test`,
  `api.example.com:${port}?evil.test`,
  '',
];

function plainRequest(host: string | null): string {
  return (
    `GET http://api.example.com:${fx.http.port}/x HTTP/1.1\r\n` +
    (host === null ? '' : `Host: ${host}\r\n`) +
    `Authorization: Bearer ${fx.secrets.exact.placeholder}\r\n` +
    `Proxy-Authorization: ${proxyAuthorization()}\r\nConnection: close\r\n\r\n`
  );
}

function tunnelRequest(host: string): string {
  return `GET /x HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${fx.secrets.exact.placeholder}\r\nConnection: close\r\n\r\n`;
}

const tunnel = (request: string) => rawTunnelRequest(fx.proxyPort, `api.example.com:${fx.https.port}`, proxyAuthorization(), fx.veilCa.certPem, request);

describe('plain HTTP: the Host header', () => {
  for (const forged of forgedHosts(0)) {
    it(`answers 400 to Host "${forged.replace(':0', ':P')}" and forwards nothing`, async () => {
      const host = forged.replace(':0', `:${fx.http.port}`);
      const before = everywhere();
      const answer = await rawRequest(fx.proxyPort, plainRequest(host));
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('Host header');
      expect(answer).not.toContain(VALUES.exact);
      expect(everywhere()).toBe(before);
    });
  }

  it('answers 421 to a plain Host naming another host, and forwards nothing', async () => {
    const before = fx.http.received.length;
    const answer = await rawRequest(fx.proxyPort, plainRequest(`elsewhere.test:${fx.http.port}`));
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
    expect(fx.http.received.length).toBe(before);
  });

  it('curl with a forged Host gets 400 and the upstream nothing', async () => {
    const before = fx.http.received.length;
    const result = await curl(`http://api.example.com:${fx.http.port}/x`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', `Host: evil.test@api.example.com:${fx.http.port}`,
      '-H', `Authorization: Bearer ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.status).toBe(400);
    expect(result.body).not.toContain(VALUES.exact);
    expect(fx.http.received.length).toBe(before);
  });

  it('sends the upstream the routed authority, not the Host as the client spelled it', async () => {
    const answer = await rawRequest(fx.proxyPort, plainRequest('API.Example.COM.:1234'));
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const seen = lastReceived(fx.http);
    expect(seen.rawHeaders.filter((_, index) => index % 2 === 0 && seen.rawHeaders[index]!.toLowerCase() === 'host')).toHaveLength(1);
    expect(headerValue(seen, 'host')).toBe(`api.example.com:${fx.http.port}`);
    expect(headerValue(seen, 'authorization')).toBe(`Bearer ${VALUES.exact}`);
  });

  it('still forwards a request without a Host header (HTTP/1.0), with the routed authority', async () => {
    const request = plainRequest(null).replace('HTTP/1.1', 'HTTP/1.0');
    const answer = await rawRequest(fx.proxyPort, request);
    expect(answer).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(headerValue(lastReceived(fx.http), 'host')).toBe(`api.example.com:${fx.http.port}`);
  });
});

describe('inside a CONNECT tunnel: the Host header', () => {
  for (const forged of forgedHosts(0)) {
    it(`answers 400 to Host "${forged.replace(':0', ':P')}" and forwards nothing`, async () => {
      const before = everywhere();
      const { connectStatus, answer } = await tunnel(tunnelRequest(forged.replace(':0', `:${fx.https.port}`)));
      expect(connectStatus).toMatch(/ 200 /);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('Host header');
      expect(answer).not.toContain(VALUES.exact);
      expect(everywhere()).toBe(before);
    });
  }

  it('answers 421 to a plain Host naming another host, and forwards nothing', async () => {
    const before = fx.https.received.length;
    const { answer } = await tunnel(tunnelRequest('elsewhere.test'));
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
    expect(fx.https.received.length).toBe(before);
  });

  it('curl with a forged Host inside the tunnel gets 400 and the upstream nothing', async () => {
    const before = everywhere();
    const result = await curl(`https://api.example.com:${fx.https.port}/x`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--cacert', fx.veilCa.certFile,
      '-H', `Host: evil.test@api.example.com:${fx.https.port}`,
      '-H', `Authorization: Bearer ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.connectStatus).toBe(200);
    expect(result.status).toBe(400);
    expect(result.body).not.toContain(VALUES.exact);
    expect(everywhere()).toBe(before);
  });

  it('sends the upstream the routed authority', async () => {
    const { answer } = await tunnel(tunnelRequest('API.example.com.'));
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const seen = lastReceived(fx.https);
    expect(headerValue(seen, 'host')).toBe(`api.example.com:${fx.https.port}`);
    expect(headerValue(seen, 'authorization')).toBe(`Bearer ${VALUES.exact}`);
  });
});
