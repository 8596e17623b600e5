/**
 * Reflection encodings through the real proxy (issue 12): a hostile HTTPS upstream on an allowed
 * host echoes the value it received in every encoding the scrubber covers (hex, every-byte and
 * double percent, JSON \uXXXX, HTML entities, MIME base64 with CRLF and LF at each alignment), in
 * response headers and in a chunked body written a few bytes at a time so that forms straddle
 * chunk boundaries. curl, through the intercepting proxy, must see none of them.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { assertNoValueLogged, makePlaceholder, mountExtraSecrets, startFixture, type Fixture } from '../helpers/proxy-fixture.js';
import { ENCODERS, mime } from '../helpers/reflections.js';

/** Has every char an HTML escaper changes, non-ASCII (multi-byte UTF-8) and hex letters in its bytes. */
const VALUE = `r3fl&ct<me>"q'-é-0123456789-ZZ`;
const PLACEHOLDER = makePlaceholder();
/** Bytes before the value inside the MIME bodies: every alignment, and long enough to cross a line break. */
const MIME_PREFIXES = [60, 61, 62, 100, 101, 102];

let fx: Fixture;
let upstream: Server;
let port = 0;
let received: string | undefined;

/** The body the reflecting upstream sends for the value it received. */
function reflection(value: string): string {
  const lines = Object.entries(ENCODERS).map(([name, encode]) => `${name}: ${encode(value)}`);
  for (const eol of ['\r\n', '\n']) {
    for (const prefix of MIME_PREFIXES) {
      lines.push(`--mime ${prefix} ${JSON.stringify(eol)}--`, mime(Buffer.concat([Buffer.alloc(prefix, 0x2a), Buffer.from(value, 'utf8'), Buffer.from(' trailer')]), eol), '--end--');
    }
  }
  return lines.join('\n');
}

beforeAll(async () => {
  fx = await startFixture();
  mountExtraSecrets(fx, [{ secretId: 'id-REFLECT', name: 'REFLECT', env: 'REFLECT', placeholder: PLACEHOLDER, value: VALUE, hosts: ['api.example.com'], locations: ['header'] }]);
  const leaf = fx.upstreamCa.issue(['api.example.com']);
  upstream = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    // Header strings are latin1 (one char per byte): the value arrives as its UTF-8 bytes.
    const value = Buffer.from(String(req.headers['x-key'] ?? ''), 'latin1').toString('utf8');
    received = value;
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Hex': ENCODERS['hex upper']!(value),
      'X-Percent': ENCODERS['every byte %xx']!(value),
      'X-Json': ENCODERS['JSON \\uXXXX']!(value),
      'X-Html': ENCODERS['HTML &#NN;']!(value),
    });
    const body = Buffer.from(reflection(value), 'utf8');
    for (let offset = 0; offset < body.length; offset += 5) res.write(body.subarray(offset, offset + 5));
    res.end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  port = (upstream.address() as AddressInfo).port;
});

afterAll(async () => {
  assertNoValueLogged(fx);
  expect(fx.logs.some((line) => line.includes(VALUE))).toBe(false);
  await fx.close();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe('reflection encodings through the intercepting proxy', () => {
  it('no encoding of the value reaches the client; the placeholder comes back in the same encodings', async () => {
    const result = await curl(`https://api.example.com:${port}/reflect`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile, '-H', `X-Key: ${PLACEHOLDER}`]);
    expect(result.status).toBe(200);
    // The upstream did get the real value: what it reflected was the secret.
    expect(received).toBe(VALUE);
    const seen = result.headers + result.body;
    expect(seen).not.toContain(VALUE);
    for (const [name, encode] of Object.entries(ENCODERS)) {
      expect(seen.includes(encode(VALUE)), name).toBe(false);
      expect(result.body, name).toContain(`${name}: ${encode(PLACEHOLDER)}`);
    }
    expect(result.headers).toContain(`X-Hex: ${ENCODERS['hex upper']!(PLACEHOLDER)}`);
    // Every MIME body decodes without the value, and its prefix intact.
    const mimeBodies = [...result.body.matchAll(/--mime (\d+) "[^"]+"--\n([\s\S]*?)\n--end--/g)];
    expect(mimeBodies).toHaveLength(2 * MIME_PREFIXES.length);
    for (const [, prefix, body] of mimeBodies) {
      expect(body).toMatch(/\n/);
      const decoded = Buffer.from(body!.replace(/\r?\n/g, ''), 'base64');
      expect(decoded.includes(Buffer.from(VALUE, 'utf8'))).toBe(false);
      expect(decoded.subarray(0, Number(prefix)).equals(Buffer.alloc(Number(prefix), 0x2a))).toBe(true);
    }
  });
});
