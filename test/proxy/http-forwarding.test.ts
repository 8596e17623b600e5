import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyAgent, request } from 'undici';
import { curl, pythonGet } from '../helpers/proxy-clients.js';
import { headerValue, lastReceived, VALUES, withFixture, type Fixture } from '../helpers/proxy-fixture.js';
import type { ReceivedRequest } from '../helpers/upstream.js';

let fx: Fixture;
withFixture((fixture) => (fx = fixture));

const lastSeen = (): ReceivedRequest => lastReceived(fx.http);

const header = headerValue;

/** curl -x http://ID:TOKEN@proxy to http://<host>:<upstream port><path> with one header. */
async function viaCurl(host: string, path: string, headerLine: string, extra: string[] = []) {
  return curl(`http://${host}:${fx.http.port}${path}`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '-H', headerLine, ...extra]);
}

describe('plain HTTP through the proxy: who gets the value', () => {
  it('swaps the placeholder for an exactly allowed host (curl -x with userinfo)', async () => {
    const before = fx.http.received.length;
    const result = await viaCurl('api.example.com', '/v1/things?key=' + fx.secrets.exact.placeholder, `Authorization: Bearer ${fx.secrets.exact.placeholder}`);
    expect(result.status).toBe(200);
    expect(fx.http.received.length).toBe(before + 1);
    const seen = lastSeen();
    expect(header(seen, 'authorization')).toBe(`Bearer ${VALUES.exact}`);
    expect(seen.url).toBe(`/v1/things?key=${VALUES.exact}`);
    expect(header(seen, 'host')).toBe(`api.example.com:${fx.http.port}`);
  });

  it('works with --proxy-user as well', async () => {
    const result = await curl(`http://api.example.com:${fx.http.port}/`, [
      '-x', `http://127.0.0.1:${fx.proxyPort}`,
      '--proxy-user', fx.userinfo,
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('does not swap for a host that is not on the allowlist', async () => {
    const result = await viaCurl('other.example.com', '/', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.exact.placeholder);
  });

  it('matches a wildcard at any depth but not the apex', async () => {
    await viaCurl('deep.sub.example.org', '/', `X-Key: ${fx.secrets.wild.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.wild);
    await viaCurl('example.org', '/', `X-Key: ${fx.secrets.wild.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.wild.placeholder);
  });

  it('normalizes an uppercase destination host', async () => {
    const result = await viaCurl('API.EXAMPLE.COM', '/', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('normalizes a trailing-dot destination host', async () => {
    const result = await viaCurl('api.example.com.', '/', `X-Key: ${fx.secrets.exact.placeholder}`);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
  });

  it('matches an IDN host in punycode (curl converts bücher.example)', async () => {
    const result = await viaCurl('bücher.example', '/', `X-Key: ${fx.secrets.idn.placeholder}`);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.idn);
  });

  it('never swaps the placeholder of a secret this sandbox does not mount', async () => {
    const result = await viaCurl('api.example.com', '/', `X-Key: ${fx.secrets.othersOnly.placeholder}`);
    expect(result.status).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.othersOnly.placeholder);
  });

  it('leaves a secret without hosts alone unless unrestricted secrets are allowed', async () => {
    await viaCurl('api.example.com', '/', `X-Key: ${fx.secrets.everywhere.placeholder}`);
    expect(header(lastSeen(), 'x-key')).toBe(fx.secrets.everywhere.placeholder);
  });

  it('works with Node undici ProxyAgent (absolute-form, proxyTunnel false)', async () => {
    const agent = new ProxyAgent({
      uri: fx.proxyUrl,
      token: `Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
      proxyTunnel: false,
    });
    try {
      const response = await request(`http://api.example.com:${fx.http.port}/node`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'x-key': fx.secrets.exact.placeholder, 'content-type': 'text/plain' },
        body: 'hello body',
      });
      expect(response.statusCode).toBe(200);
      await response.body.text();
    } finally {
      await agent.close();
    }
    const seen = lastSeen();
    expect(header(seen, 'x-key')).toBe(VALUES.exact);
    expect(seen.body).toBe('hello body');
    expect(seen.method).toBe('POST');
  });

  it('works with python3 urllib (ProxyHandler with credentials)', async () => {
    const result = await pythonGet(
      `http://api.example.com:${fx.http.port}/py`,
      `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      fx.veilCa.certFile,
      { 'X-Key': fx.secrets.exact.placeholder },
    );
    expect(result.status, result.stderr).toBe(200);
    expect(header(lastSeen(), 'x-key')).toBe(VALUES.exact);
    expect(lastSeen().url).toBe('/py');
  });
});

describe('plain HTTP: headers and bodies', () => {
  it('strips hop-by-hop and Proxy-* headers and keeps order and casing of the rest', async () => {
    await curl(`http://api.example.com:${fx.http.port}/hdrs`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', 'X-First: 1',
      '-H', 'Connection: keep-alive, X-Listed',
      '-H', 'X-Listed: drop me',
      '-H', 'Keep-Alive: timeout=5',
      '-H', 'TE: trailers',
      '-H', 'Proxy-Connection: keep-alive',
      '-H', 'Proxy-Secret-Thing: nope',
      '-H', 'x-MiXeD-Case: 2',
      '-H', 'X-Last: 3',
    ]);
    const seen = lastSeen();
    const names = seen.rawHeaders.filter((_, index) => index % 2 === 0);
    // undici opens its own hop with `connection: keep-alive`; the client's Connection must not leak.
    expect(header(seen, 'connection') ?? '').not.toMatch(/x-listed/i);
    for (const dropped of ['x-listed', 'keep-alive', 'te', 'proxy-connection', 'proxy-secret-thing', 'proxy-authorization']) {
      expect(names.map((name) => name.toLowerCase())).not.toContain(dropped);
    }
    const kept = names.filter((name) => ['X-First', 'x-MiXeD-Case', 'X-Last'].includes(name));
    expect(kept).toEqual(['X-First', 'x-MiXeD-Case', 'X-Last']);
  });

  it('streams a chunked request body unchanged and keeps response header casing', async () => {
    const payload = 'x'.repeat(200_000);
    const file = join(mkdtempSync(join(tmpdir(), 'veil-body-')), 'payload');
    writeFileSync(file, payload);
    const result = await curl(`http://api.example.com:${fx.http.port}/upload`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', 'Transfer-Encoding: chunked',
      '--data-binary', `@${file}`,
    ]);
    expect(result.status).toBe(200);
    const seen = lastSeen();
    expect(seen.body.length).toBe(payload.length);
    expect(header(seen, 'transfer-encoding')).toBe('chunked');
    expect(result.headers).toContain('X-Upstream-Case: Kept');
  });

  it('relays a large upload sent with Expect: 100-continue', async () => {
    const payload = 'y'.repeat(3_000_000);
    const file = join(mkdtempSync(join(tmpdir(), 'veil-body-')), 'payload');
    writeFileSync(file, payload);
    const result = await curl(`http://api.example.com:${fx.http.port}/big`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', 'Expect: 100-continue',
      '--data-binary', `@${file}`,
    ]);
    expect(result.status).toBe(200);
    const seen = lastSeen();
    expect(seen.body.length).toBe(payload.length);
    expect(header(seen, 'content-length')).toBe(String(payload.length));
    expect(header(seen, 'expect')).toBeUndefined();
  });

  it('relays an Upgrade request with its Upgrade header (substituted) even when the upstream declines to upgrade', async () => {
    const result = await curl(`http://api.example.com:${fx.http.port}/ws`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '-H', 'Connection: Upgrade',
      '-H', 'Upgrade: websocket',
      '-H', `X-Key: ${fx.secrets.exact.placeholder}`,
    ]);
    expect(result.status).toBe(200);
    const seen = lastSeen();
    expect(seen.url).toBe('/ws');
    expect(header(seen, 'upgrade')).toBe('websocket');
    expect(header(seen, 'connection')).toBe('Upgrade');
    expect(header(seen, 'x-key')).toBe(VALUES.exact);
  });

  it('relays HEAD without a body', async () => {
    const result = await curl(`http://api.example.com:${fx.http.port}/head`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '-I']);
    expect(result.status).toBe(200);
    expect(result.exitCode).toBe(0);
    expect(lastSeen().method).toBe('HEAD');
  });

  it('keeps Content-Length framing for a sized body', async () => {
    await curl(`http://api.example.com:${fx.http.port}/sized`, [
      '-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`,
      '--data-binary', 'abc=def',
    ]);
    const seen = lastSeen();
    expect(header(seen, 'content-length')).toBe('7');
    expect(header(seen, 'transfer-encoding')).toBeUndefined();
    expect(seen.body).toBe('abc=def');
  });
});

describe('plain HTTP: refusals', () => {
  it('answers 407 with Proxy-Authenticate for missing credentials, a wrong token and an unknown sandbox, alike', async () => {
    const before = fx.http.received.length;
    const url = `http://api.example.com:${fx.http.port}/`;
    const results = await Promise.all([
      curl(url, ['-x', `http://127.0.0.1:${fx.proxyPort}`]),
      curl(url, ['-x', `http://${fx.sandbox.sandboxId}:wrong-token@127.0.0.1:${fx.proxyPort}`]),
      curl(url, ['-x', `http://no-such-sandbox:${fx.token}@127.0.0.1:${fx.proxyPort}`]),
      curl(url, ['-x', `http://${fx.other.sandboxId}:${fx.token}@127.0.0.1:${fx.proxyPort}`]),
    ]);
    for (const result of results) {
      expect(result.status).toBe(407);
      expect(result.headers).toMatch(/proxy-authenticate: Basic realm="veil"/i);
      expect(result.body).toBe(results[0]!.body);
    }
    expect(fx.http.received.length).toBe(before);
  });

  it('answers 421 when the Host header names another host, forwarding nothing', async () => {
    const before = fx.http.received.length;
    const result = await viaCurl('api.example.com', '/', `Host: elsewhere.test:${fx.http.port}`);
    expect(result.status).toBe(421);
    expect(fx.http.received.length).toBe(before);
  });

  it('accepts a Host header that differs only in case, trailing dot or port', async () => {
    const result = await viaCurl('api.example.com', '/', 'Host: API.Example.COM.:1234');
    expect(result.status).toBe(200);
  });

  it('answers 400 naming the secret when its value contains CR/LF, forwarding nothing', async () => {
    const before = fx.http.received.length;
    const result = await viaCurl('api.example.com', '/', `X-Key: ${fx.secrets.unsafe.placeholder}`);
    expect(result.status).toBe(400);
    expect(result.body).toContain('UNSAFE_KEY');
    expect(result.body).not.toContain('Injected');
    expect(fx.http.received.length).toBe(before);
  });

  it('answers 400 for an origin-form request to the proxy port itself', async () => {
    const result = await curl(`http://127.0.0.1:${fx.proxyPort}/`, []);
    expect(result.status).toBe(400);
    expect(result.body).toContain('egress proxy');
  });

  it('answers 400 to a request with two Host headers, forwarding nothing', async () => {
    const before = fx.http.received.length;
    const socket = connect({ host: '127.0.0.1', port: fx.proxyPort });
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET http://api.example.com:${fx.http.port}/ HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\nHost: elsewhere.test\r\n` +
        `Proxy-Authorization: Basic ${Buffer.from(fx.userinfo).toString('base64')}\r\nConnection: close\r\n\r\n`,
    );
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(fx.http.received.length).toBe(before);
  });

  it('answers 502 when the upstream refuses the connection', async () => {
    const { deadPort } = await import('../helpers/upstream.js');
    const port = await deadPort();
    const result = await curl(`http://api.example.com:${port}/`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(result.status).toBe(502);
    expect(result.body).toContain('connection refused');
  });
});
