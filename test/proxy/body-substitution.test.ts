/**
 * Request-body substitution through the real proxy: curl and Node clients send bodies (form, JSON,
 * chunked, gzip, Expect: 100-continue) to real echo upstreams; assertions on what the upstream got
 * (bytes, Content-Length, framing) and on what the client got back (scrubbed).
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { assertNoValueLogged, mountExtraSecrets, secret, startFixture, type Fixture } from '../helpers/proxy-fixture.js';
import type { ReceivedRequest, TestUpstream } from '../helpers/upstream.js';

const FORM_VALUE = 'oauth s3cr3t/+&=value';
const JSON_VALUE = 'pa"ss\\word-ünï';
const LONG_VALUE = 'L'.repeat(300);
const ELSEWHERE_VALUE = 'elsewhere-body-value';
const formSecret = secret('OAUTH_CLIENT_SECRET', FORM_VALUE, ['api.example.com'], { locations: ['body'] });
const jsonSecret = secret('LOGIN_PASSWORD', JSON_VALUE, ['api.example.com'], { locations: ['header', 'body'] });
const longSecret = secret('LONG_TOKEN', LONG_VALUE, ['api.example.com'], { locations: ['body'] });
const elsewhereSecret = secret('ELSEWHERE', ELSEWHERE_VALUE, ['other.example.com'], { locations: ['body'] });
const ALL_VALUES = [FORM_VALUE, JSON_VALUE, LONG_VALUE, ELSEWHERE_VALUE];

function mountBodySecrets(fixture: Fixture): void {
  mountExtraSecrets(fixture, [formSecret, jsonSecret, longSecret, elsewhereSecret]);
}

function expectNoBodyValueLogged(fixture: Fixture): void {
  for (const line of fixture.logs) for (const value of ALL_VALUES) expect(line).not.toContain(value);
}

let fx: Fixture;
let spillDir: string;

beforeAll(async () => {
  spillDir = mkdtempSync(join(tmpdir(), 'veil-spill-test-'));
  fx = await startFixture({ body: { memoryLimit: 16 * 1024, hardCap: 1024 * 1024, tmpDir: spillDir } });
  mountBodySecrets(fx);
});
afterAll(async () => {
  assertNoValueLogged(fx);
  expectNoBodyValueLogged(fx);
  await fx.close();
});

function lastSeen(upstream: TestUpstream): ReceivedRequest {
  const last = upstream.received.at(-1);
  if (!last) throw new Error('upstream saw nothing');
  return last;
}

function viaCurl(fixture: Fixture, host: string, path: string, args: string[]) {
  return curl(`https://${host}:${fixture.https.port}${path}`, ['-x', `http://${fixture.userinfo}@127.0.0.1:${fixture.proxyPort}`, '--cacert', fixture.veilCa.certFile, ...args]);
}

describe('request bodies (curl through the intercepting proxy)', () => {
  it('OAuth form body: client_secret=PLACEHOLDER arrives form-encoded with an exact Content-Length; the echo is scrubbed', async () => {
    const result = await viaCurl(fx, 'api.example.com', '/oauth/token', ['--data', `grant_type=client_credentials&client_id=app&client_secret=${formSecret.placeholder}`]);
    expect(result.status).toBe(200);
    const seen = lastSeen(fx.https);
    // Query-style percent-encoding (encode.ts): `/` stays, space and `+ & =` are escaped.
    const expected = 'grant_type=client_credentials&client_id=app&client_secret=oauth%20s3cr3t/%2B%26%3Dvalue';
    expect(new URLSearchParams(seen.body).get('client_secret')).toBe(FORM_VALUE);
    expect(seen.body).toBe(expected);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(seen.body)));
    expect(result.body).not.toContain(seen.body);
    expect(result.body).toContain(formSecret.placeholder);
  });

  it('JSON login body: value JSON-escaped, Content-Length exact, echo scrubbed', async () => {
    const body = JSON.stringify({ user: 'me', password: jsonSecret.placeholder });
    const result = await viaCurl(fx, 'api.example.com', '/login', ['-H', 'Content-Type: application/json', '--data-binary', body]);
    expect(result.status).toBe(200);
    const seen = lastSeen(fx.https);
    expect(JSON.parse(seen.body)).toEqual({ user: 'me', password: JSON_VALUE });
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(seen.body)));
    expect(result.body).not.toContain(JSON.stringify(JSON_VALUE).slice(1, -1));
    expect(result.body).not.toContain(JSON_VALUE);
  });

  it('a chunked upload stays chunked, placeholders replaced', async () => {
    const body = `a=${longSecret.placeholder}&b=${jsonSecret.placeholder}`;
    const result = await viaCurl(fx, 'api.example.com', '/upload', ['-H', 'Transfer-Encoding: chunked', '-H', 'Content-Type: text/plain', '--data-binary', body]);
    expect(result.status).toBe(200);
    const seen = lastSeen(fx.https);
    expect(seen.body).toBe(`a=${LONG_VALUE}&b=${JSON_VALUE}`);
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers['content-length']).toBeUndefined();
  });

  it('a gzip request body is decoded, substituted and re-encoded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-gzip-body-'));
    const file = join(dir, 'body.gz');
    writeFileSync(file, gzipSync(Buffer.from(`token=${longSecret.placeholder}`)));
    const result = await viaCurl(fx, 'api.example.com', '/gz', ['-H', 'Content-Encoding: gzip', '-H', 'Content-Type: text/plain', '--data-binary', `@${file}`]);
    expect(result.status).toBe(200);
    const seen = lastSeen(fx.https);
    expect(seen.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(seen.rawBody).toString()).toBe(`token=${LONG_VALUE}`);
    expect(seen.headers['content-length']).toBe(String(seen.rawBody.length));
  });

  it('a gzip body that does not decode gets 400 (buffered and streamed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-bad-gzip-'));
    const file = join(dir, 'body.gz');
    writeFileSync(file, Buffer.concat([gzipSync(Buffer.from('x'.repeat(1000))).subarray(0, 20), Buffer.from('definitely not gzip')]));
    for (const extra of [[], ['-H', 'Transfer-Encoding: chunked']]) {
      const result = await viaCurl(fx, 'api.example.com', '/bad-gz', ['-H', 'Content-Encoding: gzip', ...extra, '--data-binary', `@${file}`]);
      expect(result.status).toBe(400);
      expect(result.body).toContain('does not decode');
    }
  });

  it('Expect: 100-continue keeps working with a body that gets substituted', async () => {
    const result = await viaCurl(fx, 'api.example.com', '/continue', ['-H', 'Expect: 100-continue', '-H', 'Content-Type: text/plain', '--data-binary', `k=${longSecret.placeholder}`]);
    expect(result.status).toBe(200);
    expect(lastSeen(fx.https).body).toBe(`k=${LONG_VALUE}`);
  });

  it('leaves bodies alone for a host not on the allowlist and for secrets without the body location', async () => {
    const body = `x=${longSecret.placeholder}&h=${fx.secrets.exact.placeholder}`;
    await viaCurl(fx, 'other.example.com', '/', ['--data-binary', body]);
    expect(lastSeen(fx.https).body).toBe(body);
    const other = `e=${elsewhereSecret.placeholder}&h=${fx.secrets.exact.placeholder}`;
    await viaCurl(fx, 'api.example.com', '/', ['--data-binary', other]);
    expect(lastSeen(fx.https).body).toBe(other);
  });

  it('spills a body above the memory limit to a temp file and removes it afterwards', async () => {
    const filler = 'f'.repeat(100 * 1024);
    const body = `${longSecret.placeholder}${filler}${longSecret.placeholder}`;
    const result = await viaCurl(fx, 'api.example.com', '/big', ['-H', 'Content-Type: text/plain', '--data-binary', body]);
    expect(result.status).toBe(200);
    const seen = lastSeen(fx.https);
    expect(seen.body).toBe(`${LONG_VALUE}${filler}${LONG_VALUE}`);
    expect(seen.headers['content-length']).toBe(String(seen.body.length));
    expect(fx.logs.some((line) => line.includes('"spilled":true'))).toBe(true);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it('refuses a body above the hard cap with 413 and a clear message, forwarding nothing', async () => {
    const before = fx.https.received.length;
    const dir = mkdtempSync(join(tmpdir(), 'veil-413-'));
    const file = join(dir, 'body');
    writeFileSync(file, `${longSecret.placeholder}${'x'.repeat(2 * 1024 * 1024)}`);
    const result = await viaCurl(fx, 'api.example.com', '/too-big', ['-H', 'Content-Type: text/plain', '--data-binary', `@${file}`]);
    expect(result.status).toBe(413);
    expect(result.body).toContain('request body too large');
    expect(fx.https.received.length).toBe(before);
  });
});

describe('Expect: 100-continue (raw HTTP/1.1 on the proxy port)', () => {
  /** Sends a request head, then returns the bytes the proxy sends until `until` matches or 3 s pass. */
  function exchange(head: string, onFirstReply: (socket: Socket, reply: string) => void): Promise<string> {
    return new Promise((resolve) => {
      const socket = netConnect(fx.proxyPort, '127.0.0.1');
      let seen = '';
      let first = true;
      const timer = setTimeout(() => socket.destroy(), 3_000);
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        if (first && /\r\n\r\n/.test(seen)) {
          first = false;
          onFirstReply(socket, seen);
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(seen);
      });
      socket.write(head);
    });
  }
  const auth = () => `Proxy-Authorization: Basic ${Buffer.from(fx.userinfo).toString('base64')}\r\n`;

  it('a body too large to substitute gets 413 at once, never a 100 Continue inviting it', async () => {
    const before = fx.http.received.length;
    const reply = await exchange(
      `POST http://api.example.com:${fx.http.port}/too-big HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n${auth()}` +
        `Content-Type: text/plain\r\nContent-Length: ${4 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`,
      () => {},
    );
    expect(reply.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(reply).not.toContain('100 Continue');
    expect(fx.http.received.length).toBe(before);
  });

  it('a client that dies while its body is being collected for substitution: nothing forwarded, no temp file left, the proxy goes on', async () => {
    const before = fx.http.received.length;
    // 1,500 bytes stay in memory whatever they hold (in-memory path); 100,000 bytes spill to a temp file (stream path).
    for (const [length, sent] of [[1_500, 100], [100_000, 40_000]] as const) {
      const socket = netConnect(fx.proxyPort, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        `POST http://api.example.com:${fx.http.port}/dies HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n${auth()}` +
          `Content-Type: text/plain\r\nContent-Length: ${length}\r\n\r\nk=${longSecret.placeholder}${'x'.repeat(sent)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(readdirSync(spillDir)).toEqual([]);
    expect(fx.http.received.length).toBe(before);
    const after = await viaCurl(fx, 'api.example.com', '/still-there', ['--data', `k=${longSecret.placeholder}`]);
    expect(after.status).toBe(200);
    expect(lastSeen(fx.https).body).toBe(`k=${LONG_VALUE}`);
  });

  it('a client that sends a too-large body without Expect reads the 413 (no reset) and can go on on that connection', async () => {
    const before = fx.http.received.length;
    const socket = netConnect(fx.proxyPort, '127.0.0.1');
    socket.on('error', () => {});
    let seen = '';
    socket.on('data', (chunk) => (seen += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    const length = 1536 * 1024; // over this fixture's 1 MiB cap
    socket.write(
      `POST http://api.example.com:${fx.http.port}/too-big HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n${auth()}` +
        `Content-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(length, 'x'));
    const deadline = Date.now() + 5_000;
    while (!seen.includes('request body too large') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.startsWith('HTTP/1.1 413 ')).toBe(true);
    // The body was read off the wire, not answered with a reset: the same connection serves the next request.
    socket.write(`GET http://api.example.com:${fx.http.port}/after-413 HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n${auth()}Connection: close\r\n\r\n`);
    await new Promise((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 5_000);
      socket.once('close', () => resolve(clearTimeout(timer)));
    });
    expect(seen).toMatch(/HTTP\/1\.1 200 /);
    expect(fx.http.received.length).toBe(before + 1);
    expect(lastSeen(fx.http).url).toBe('/after-413');
  });

  it('an accepted body gets 100 Continue first, then is substituted and forwarded', async () => {
    const body = `k=${longSecret.placeholder}`;
    const reply = await exchange(
      `POST http://api.example.com:${fx.http.port}/continued HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n${auth()}` +
        `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      (socket, first) => {
        // Only now is the body sent, as a client that honours Expect does.
        if (first.startsWith('HTTP/1.1 100 Continue')) socket.write(body);
      },
    );
    expect(reply.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ')).toBe(true);
    const seen = lastSeen(fx.http);
    expect(seen.url).toBe('/continued');
    expect(seen.body).toBe(`k=${LONG_VALUE}`);
  });
});

describe('request bodies in block mode', () => {
  let blocking: Fixture;
  beforeAll(async () => {
    blocking = await startFixture({ disallowed: 'block' });
    mountBodySecrets(blocking);
  });
  afterAll(async () => {
    expectNoBodyValueLogged(blocking);
    await blocking.close();
  });

  it('answers 403 before forwarding anything when a buffered body carries a disallowed placeholder', async () => {
    const before = blocking.https.received.length;
    const result = await viaCurl(blocking, 'api.example.com', '/', ['--data-binary', `ok=${longSecret.placeholder}&bad=${elsewhereSecret.placeholder}`]);
    expect(result.status).toBe(403);
    expect(result.body).toContain('ELSEWHERE (body)');
    expect(blocking.https.received.length).toBe(before);
  });

  it('cuts a chunked body at the disallowed placeholder: 403, the upstream never gets a complete request nor the placeholder', async () => {
    const before = blocking.http.received.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: blocking.proxyPort,
        method: 'POST',
        path: `http://api.example.com:${blocking.http.port}/stream-up`,
        headers: {
          Host: `api.example.com:${blocking.http.port}`,
          'Proxy-Authorization': `Basic ${Buffer.from(blocking.userinfo).toString('base64')}`,
          'Transfer-Encoding': 'chunked',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(`ok=${longSecret.placeholder}&`);
      setTimeout(() => req.end(`bad=${elsewhereSecret.placeholder}`), 50);
    });
    expect(status).toBe(403);
    expect(blocking.http.received.length).toBe(before);
    expect(blocking.logs.some((line) => line.includes('placeholder in a streamed body'))).toBe(true);
  });
});

describe('request bodies without body secrets (hot path)', () => {
  it('forwards a gzip body byte for byte when the sandbox has no body secret for the host', async () => {
    const payload = gzipSync(Buffer.from(`nothing to see ${fx.secrets.exact.placeholder}`));
    const dir = mkdtempSync(join(tmpdir(), 'veil-gz-pass-'));
    const file = join(dir, 'body.gz');
    writeFileSync(file, payload);
    await viaCurl(fx, 'deep.sub.example.org', '/gz-pass', ['-H', 'Content-Encoding: gzip', '--data-binary', `@${file}`]);
    const seen = lastSeen(fx.https);
    expect(seen.headers['content-length']).toBe(String(payload.length));
    expect(seen.rawBody.equals(payload)).toBe(true);
    const proxied = fx.logs.filter((line) => line.includes('"msg":"proxied"')).at(-1)!;
    expect(proxied).toContain('"host":"deep.sub.example.org"');
    expect(proxied).not.toContain('"body":');
    expect(gunzipSync(payload).toString()).toContain(fx.secrets.exact.placeholder);
  });
});
