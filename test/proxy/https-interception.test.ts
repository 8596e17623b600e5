import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyAgent, request } from 'undici';
import { curl, pythonGet, pythonRequestsGet } from '../helpers/proxy-clients.js';
import { headerValue, lastReceived, VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

const lastSeen = (): ReceivedRequest => lastReceived(fx.https);

const header = headerValue;

function proxyArgs(): string[] {
  return ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile];
}

async function viaCurl(host: string, headerLine: string, port = fx.https.port) {
  return curl(`https://${host}:${port}/secure?q=1`, [...proxyArgs(), '-H', headerLine]);
}

/** CONNECT by hand, then TLS with a chosen SNI and a raw HTTP/1.1 request: returns the status line. */
async function tlsRequestWithSni(connectHost: string, servername: string, hostHeader: string): Promise<string> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: fx.proxyPort,
      method: 'CONNECT',
      path: `${connectHost}:${fx.https.port}`,
      headers: { 'proxy-authorization': `Basic ${Buffer.from(fx.userinfo).toString('base64')}` },
    });
    req.once('connect', (res, connected) => (res.statusCode === 200 ? resolve(connected) : reject(new Error(`CONNECT ${res.statusCode}`))));
    req.once('error', reject);
    req.end();
  });
  const tls = tlsConnect({ socket, servername, ca: fx.veilCa.certPem });
  tls.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', () => resolve());
    tls.once('error', reject);
  });
  tls.write(`GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nX-Key: ${fx.secrets.exact.placeholder}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of tls) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split('\r\n')[0] ?? '';
}

describe('HTTPS through CONNECT + interception', () => {
  it('swaps the placeholder for an allowed host (curl --cacert the Veil CA)', async () => {
    const result = await viaCurl('api.example.com', `Authorization: Bearer ${fx.secrets.exact.placeholder}`);
    expect(result.connectStatus).toBe(200);
    expect(result.status, result.stderr).toBe(200);
    const seen = lastSeen();
    expect(header(seen, 'authorization')).toBe(`Bearer ${VALUES.exact}`);
    expect(seen.url).toBe('/secure?q=1');
    // What the client got back is the echo; interception used a leaf for the CONNECT host.
    expect(result.body).toContain('/secure?q=1');
  });

  it('uses --proxy-user as well', async () => {
    const result = await curl(`https://api.example.com:${fx.https.port}/`, [
      '-x', `http://127.0.0.1:${fx.proxyPort}`,
      '--proxy-user', fx.userinfo,
      '--cacert', fx.veilCa.certFile,
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.status, result.stderr).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('does not swap for another host', async () => {
    await viaCurl('other.example.com', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.exact.placeholder);
  });

  it('wildcard: deep subdomain yes, apex no', async () => {
    await viaCurl('deep.sub.example.org', `X-Key: ${fx.secrets.wild.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.wild);
    await viaCurl('example.org', `X-Key: ${fx.secrets.wild.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.wild.placeholder);
  });

  it('uppercase and trailing-dot CONNECT hosts are normalized', async () => {
    const upper = await viaCurl('API.EXAMPLE.COM', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(upper.status, upper.stderr).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
    const dotted = await viaCurl('api.example.com.', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(dotted.status, dotted.stderr).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('IDN host: CONNECT in punycode matches the punycode allowlist', async () => {
    const result = await viaCurl('bücher.example', `X-Key: ${fx.secrets.idn.placeholder}`);
    expect(result.status, result.stderr).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.idn);
  });

  it('never swaps a placeholder of a secret the sandbox does not mount', async () => {
    await viaCurl('api.example.com', `X-Key: ${fx.secrets.othersOnly.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.othersOnly.placeholder);
  });

  it('works with python3 urllib (ProxyHandler + ssl context with cafile)', async () => {
    const result = await pythonGet(
      `https://api.example.com:${fx.https.port}/py-secure`,
      `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      fx.veilCa.certFile,
      { 'X-Key': fx.secrets.exact.placeholder },
    );
    expect(result.status, result.stderr).toBe(200);
    expect(lastSeen().url).toBe('/py-secure');
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('works with python3 requests (proxies= with credentials, verify=cafile)', async () => {
    const result = await pythonRequestsGet(
      `https://api.example.com:${fx.https.port}/requests-secure`,
      `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      fx.veilCa.certFile,
      { Authorization: `token ${fx.secrets.exact.placeholder}` },
    );
    expect(result.status, result.stderr).toBe(200);
    expect(lastSeen().url).toBe('/requests-secure');
    expect(header(lastSeen(), 'authorization')).toBe(`token ${VALUES.exact}`);
  });

  it('works with Node undici ProxyAgent', async () => {
    const agent = new ProxyAgent({
      uri: fx.proxyUrl,
      token: `Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
      requestTls: { ca: fx.veilCa.certPem },
    });
    try {
      const response = await request(`https://deep.sub.example.org:${fx.https.port}/node-secure`, {
        dispatcher: agent,
        method: 'PUT',
        headers: { 'x-key': fx.secrets.wild.placeholder },
        body: 'payload over tls',
      });
      expect(response.statusCode).toBe(200);
      await response.body.text();
    } finally {
      await agent.close();
    }
    const seen = lastSeen();
    expect(header(seen, 'x-key')).toBe(VALUES.wild);
    expect(seen.body).toBe('payload over tls');
  });

  it('intercepts a CONNECT to an IP literal (leaf for the IP, no SNI)', async () => {
    const result = await curl(`https://127.0.0.1:${fx.https.port}/by-ip`, [...proxyArgs(), '-H', `X-Key: ${fx.secrets.exact.placeholder}`]);
    expect(result.status, result.stderr).toBe(200);
    expect(lastSeen().url).toBe('/by-ip');
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.exact.placeholder);
  });

  it('answers 407 to CONNECT without valid credentials', async () => {
    const before = fx.https.received.length;
    const url = `https://api.example.com:${fx.https.port}/`;
    const none = await curl(url, ['-x', `http://127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile]);
    const wrong = await curl(url, ['-x', `http://${fx.sandbox.sandboxId}:nope@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile]);
    const unknown = await curl(url, ['-x', `http://ghost:${fx.token}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile]);
    for (const result of [none, wrong, unknown]) {
      expect(result.connectStatus).toBe(407);
      expect(result.headers).toMatch(/proxy-authenticate: Basic realm="veil"/i);
    }
    expect(fx.https.received.length).toBe(before);
  });

  it('answers 421 when the TLS SNI names another host than CONNECT', async () => {
    const before = fx.https.received.length;
    const status = await tlsRequestWithSni('api.example.com', 'elsewhere.test', 'api.example.com');
    expect(status).toMatch(/^HTTP\/1\.1 421 /);
    expect(fx.https.received.length).toBe(before);
  });

  it('answers 421 when the Host header inside the tunnel names another host', async () => {
    const before = fx.https.received.length;
    const status = await tlsRequestWithSni('api.example.com', 'api.example.com', 'elsewhere.test');
    expect(status).toMatch(/^HTTP\/1\.1 421 /);
    const viaCurlResult = await viaCurl('api.example.com', 'Host: elsewhere.test');
    expect(viaCurlResult.status).toBe(421);
    expect(fx.https.received.length).toBe(before);
  });

  it('the control: matching SNI and Host pass', async () => {
    const status = await tlsRequestWithSni('api.example.com', 'api.example.com', `api.example.com:${fx.https.port}`);
    expect(status).toMatch(/^HTTP\/1\.1 200 /);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('answers 502 and sends nothing when the upstream certificate comes from an unknown CA', async () => {
    const result = await curl(`https://api.example.com:${fx.untrusted.port}/`, [...proxyArgs(), '-H', `X-Key: ${fx.secrets.exact.placeholder}`]);
    expect(result.status).toBe(502);
    expect(result.body).toMatch(/certificate verification failed/);
    expect(fx.untrusted.received).toHaveLength(0);
  });

  it('tunnels a non-TLS CONNECT raw, with no substitution', async () => {
    const before = fx.http.received.length;
    const result = await curl(`http://api.example.com:${fx.http.port}/raw`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--proxytunnel',
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.connectStatus).toBe(200);
    expect(result.status).toBe(200);
    expect(fx.http.received.length).toBe(before + 1);
    const seen = fx.http.received.at(-1)!;
    expect(seen.url).toBe('/raw');
    expect(seen.headers['x-key']).toBe(fx.secrets.exact.placeholder);
  });
});
