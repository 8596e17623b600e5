/**
 * Property test THROUGH THE REAL PROXY: random bodies with placeholders at random offsets, cut at
 * random boundaries and written by a real client socket with pauses, sent with a Content-Length or
 * chunked; the real echo upstream must receive exactly the expected bytes, with an exact
 * Content-Length (values shorter and longer than the placeholder) or still chunked; the client
 * must never get a value back.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoValueLogged, makePlaceholder, mountExtraSecrets, secret, startFixture, type Fixture } from '../helpers/proxy-fixture.js';

const longSecret = secret('PROP_LONG', `long-${'x'.repeat(120)}-value`, ['api.example.com'], { locations: ['body'] });
const shortSecret = secret('PROP_SHORT', 'tiny1', ['api.example.com'], { locations: ['header', 'body'] });
const unicodeSecret = secret('PROP_UNICODE', 'ünïcødé-välue-✓', ['api.example.com'], { locations: ['body'] });
const headerOnly = secret('PROP_HEADER_ONLY', 'header-only-prop-value', ['api.example.com'], { locations: ['header'] });
const elsewhere = secret('PROP_ELSEWHERE', 'elsewhere-prop-value', ['other.example.com'], { locations: ['body'] });
const unknown = makePlaceholder();
const SUBSTITUTED = new Map([longSecret, shortSecret, unicodeSecret].map((item) => [item.placeholder, Buffer.from(item.value, 'utf8')]));
const PLACEHOLDERS = [longSecret.placeholder, shortSecret.placeholder, unicodeSecret.placeholder, headerOnly.placeholder, elsewhere.placeholder, unknown];

let fx: Fixture;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  // A small memory limit so that some Content-Length bodies spill to a temp file.
  fx = await startFixture({ body: { memoryLimit: 2048, hardCap: 1024 * 1024 } });
  mountExtraSecrets(fx, [longSecret, shortSecret, unicodeSecret, headerOnly, elsewhere]);
});
afterAll(async () => {
  agent.destroy();
  assertNoValueLogged(fx);
  await fx.close();
});

/** Leftmost scan for `veil_` + 32 alnum, as the proxy does: allowed placeholders become their value. */
function expectedBody(body: Buffer): Buffer {
  const text = body.toString('latin1');
  const out: Buffer[] = [];
  let copied = 0;
  let index = text.indexOf('veil_');
  while (index !== -1 && index + 37 <= text.length) {
    const candidate = text.slice(index, index + 37);
    const value = /^veil_[A-Za-z0-9]{32}$/.test(candidate) ? SUBSTITUTED.get(candidate) : undefined;
    if (value) {
      out.push(body.subarray(copied, index), value);
      copied = index + 37;
      index = text.indexOf('veil_', copied);
    } else {
      index = text.indexOf('veil_', index + 1);
    }
  }
  out.push(body.subarray(copied));
  return Buffer.concat(out);
}

function send(chunks: Buffer[], pauses: number[], framing: 'length' | 'chunked', total: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      agent,
      host: '127.0.0.1',
      port: fx.proxyPort,
      method: 'POST',
      path: `http://api.example.com:${fx.http.port}/prop`,
      headers: {
        Host: `api.example.com:${fx.http.port}`,
        'Proxy-Authorization': `Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
        'Content-Type': 'application/octet-stream',
        ...(framing === 'length' ? { 'Content-Length': String(total) } : { 'Transfer-Encoding': 'chunked' }),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    void (async () => {
      for (let index = 0; index < chunks.length; index++) {
        if (!req.write(chunks[index]!)) await new Promise((drained) => req.once('drain', drained));
        const pause = pauses[index % Math.max(1, pauses.length)] ?? 0;
        if (pause > 0) await sleep(pause);
      }
      req.end();
    })().catch(reject);
  });
}

describe('body substitution through the proxy (property)', () => {
  it('random bodies, placeholders at random offsets, random cuts and pauses, both framings', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)), fc.nat(PLACEHOLDERS.length - 1)), { maxLength: 10 }),
        fc.array(fc.nat(5000), { maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
        fc.constantFrom<'length' | 'chunked'>('length', 'chunked'),
        async (parts, cuts, pauses, framing) => {
          runs += 1;
          const body = Buffer.concat(parts.map((part) => (typeof part === 'number' ? Buffer.from(PLACEHOLDERS[part]!, 'latin1') : part)));
          const points = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort((a, b) => a - b);
          const chunks = [...points, body.length].map((end, i, all) => body.subarray(i === 0 ? 0 : all[i - 1], end)).filter((chunk) => chunk.length > 0);
          const before = fx.http.received.length;
          const result = await send(chunks, pauses, framing, body.length);
          expect(result.status).toBe(200);
          expect(fx.http.received.length).toBe(before + 1);
          const seen = fx.http.received.at(-1)!;
          const expected = expectedBody(body);
          expect(seen.rawBody.equals(expected)).toBe(true);
          if (framing === 'length') {
            expect(seen.headers['content-length']).toBe(String(expected.length));
            expect(seen.headers['transfer-encoding']).toBeUndefined();
          } else if (body.length > 0) {
            // (An empty chunked body may arrive as Content-Length: 0; framing carries nothing then.)
            expect(seen.headers['transfer-encoding']).toBe('chunked');
            expect(seen.headers['content-length']).toBeUndefined();
          }
          // The echo came back scrubbed: no value, in any JSON-escaped form, reached the client.
          for (const value of [longSecret.value, unicodeSecret.value]) {
            expect(result.body.includes(Buffer.from(value))).toBe(false);
            expect(result.body.includes(Buffer.from(JSON.stringify(value).slice(1, -1)))).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(runs).toBe(60);
  });
});
