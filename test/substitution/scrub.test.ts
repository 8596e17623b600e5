import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildScrubNeedles, createScrubStream, scrubBuffer, scrubHeaders, scrubStatusMessage } from '../../src/substitution/scrub.js';
import { secret } from './helpers.js';

async function streamScrub(needles: ReturnType<typeof buildScrubNeedles>, chunks: Buffer[]): Promise<Buffer> {
  const stream = createScrubStream(needles);
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await done;
  return Buffer.concat(out);
}

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const b64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');
const asciiJson = (text: string) => text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Every stable base64 core (>= 8 chars) of the value, for checking nothing is left. */
function cores(value: Buffer): string[] {
  const out: string[] = [];
  for (let a = 0; a < 3; a++) {
    const text = Buffer.concat([Buffer.alloc(a), value]).toString('base64');
    const start = Math.ceil((8 * a) / 6);
    const end = Math.floor((8 * (a + value.length)) / 6);
    if (end - start >= 8) out.push(text.slice(start, end), text.slice(start, end).replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

describe('scrubbing', () => {
  const s = secret({ name: 'KEY', value: 'sk-live-0123456789abcdef' });
  const needles = buildScrubNeedles([s]);
  const P = s.placeholder;

  it('table: literal, JSON, percent, base64 and base64url forms become the placeholder (or its encoding)', () => {
    const tricky = secret({ value: 'p@ss/wörd "x" <&> +=?' });
    const t = buildScrubNeedles([tricky]);
    const tp = tricky.placeholder;
    const cases: [string, string][] = [
      [`token=${tricky.value};`, `token=${tp};`],
      [JSON.stringify({ v: tricky.value }), JSON.stringify({ v: tp })],
      [asciiJson(JSON.stringify({ v: tricky.value })), JSON.stringify({ v: tp })],
      [`{"v":"${JSON.stringify(tricky.value).slice(1, -1).replace(/\//g, '\\/')}"}`, JSON.stringify({ v: tp })],
      [`{"v":"${JSON.stringify(tricky.value).slice(1, -1).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')}"}`, JSON.stringify({ v: tp })],
      [`/x?k=${encodeURIComponent(tricky.value)}&y`, `/x?k=${tp}&y`],
      [`/x?k=${encodeURIComponent(tricky.value).toLowerCase().replace(/%[0-9a-f]{2}/g, (e) => e.toLowerCase())}`, ''],
      [new URLSearchParams({ k: tricky.value }).toString(), `k=${tp}`],
    ];
    for (const [input, expected] of cases) {
      const out = scrubBuffer(Buffer.from(input, 'utf8'), t).toString('utf8');
      if (expected !== '') expect(out).toBe(expected);
      expect(out.includes(tricky.value)).toBe(false);
    }
  });

  it('base64 at every alignment, in the middle and at the end of a run, standard and url alphabets', () => {
    for (const prefix of ['', 'a', 'ab', 'user:', 'x-access-token:']) {
      for (const suffix of ['', 'z', 'zz', ':more']) {
        for (const encode of [b64, b64url]) {
          const encoded = encode(`${prefix}${s.value}${suffix}`);
          const out = scrubBuffer(Buffer.from(`Basic ${encoded}`), needles).toString();
          expect(out.startsWith('Basic ')).toBe(true);
          const decoded = Buffer.from(out.slice(6), 'base64');
          expect(decoded.includes(Buffer.from(s.value))).toBe(false);
          for (const core of cores(Buffer.from(s.value))) expect(out.includes(core)).toBe(false);
          // the value's middle is replaced by the placeholder's middle: most of it is visible after decoding
          expect(decoded.toString('latin1')).toContain(P.slice(6, 30));
        }
      }
    }
  });

  it('does not add base64 needles for short values but still scrubs them literally', () => {
    const short = secret({ value: 'abc123' });
    const n = buildScrubNeedles([short]);
    expect(scrubBuffer(Buffer.from('x abc123 y'), n).toString()).toBe(`x ${short.placeholder} y`);
    expect(n.pairs.every((pair) => pair.from.length >= 6)).toBe(true);
  });

  it('leaves bodies without the value alone (same buffer)', () => {
    const body = Buffer.from('nothing secret here, just sk-live- and 0123456789');
    expect(scrubBuffer(body, needles)).toBe(body);
  });

  it('scrubs header values and names (an upstream may name a header after a value)', () => {
    const raw = ['X-Echo-Authorization', `Bearer ${s.value}`, 'x-echo-basic', `Basic ${b64(`u:${s.value}`)}`, 'Set-Cookie', `k=${encodeURIComponent(s.value)}`, s.value, 'name-is-scrubbed', `X-${s.value}`, '1'];
    const out = scrubHeaders(raw, needles);
    expect(out[0]).toBe('X-Echo-Authorization');
    expect(out[1]).toBe(`Bearer ${P}`);
    expect(Buffer.from(out[3]!.slice(6), 'base64').includes(Buffer.from(s.value))).toBe(false);
    expect(out[5]).toBe(`k=${P}`);
    expect(out[6]).toBe(P);
    expect(out[7]).toBe('name-is-scrubbed');
    expect(out[8]).toBe(`X-${P}`);
    expect(raw[1]).toBe(`Bearer ${s.value}`);
  });

  it('scrubs a non-ASCII value carried in latin1 header form', () => {
    const u = secret({ value: 'pässwörd-€-long-enough' });
    const n = buildScrubNeedles([u]);
    const header = Buffer.from(`Bearer ${u.value}`, 'utf8').toString('latin1');
    expect(scrubHeaders(['X', header], n)).toEqual(['X', `Bearer ${u.placeholder}`]);
  });

  it('scrubs a reason phrase as undici (UTF-8) and node:http (latin1) decode it', () => {
    const u = secret({ value: 'pässwörd-€-long-enough' });
    const n = buildScrubNeedles([u]);
    expect(scrubStatusMessage(`OK ${u.value}`, n, 'utf8')).toBe(`OK ${u.placeholder}`);
    expect(scrubStatusMessage(Buffer.from(`OK ${u.value}`, 'utf8').toString('latin1'), n, 'latin1')).toBe(`OK ${u.placeholder}`);
    expect(scrubStatusMessage('OK', n, 'utf8')).toBe('OK');
  });

  it("a value with a '/': the escaped-slash form is scrubbed in valid JSON; after a literal backslash the value still goes, the JSON may not stay valid", () => {
    for (const value of ['/abc/def-secret-value', '/ a aaa a-secret', '\\/   aaa  -secret']) {
      const v = secret({ value });
      const n = buildScrubNeedles([v]);
      // PHP's json_encode escapes every slash: the common case, scrubbed to valid JSON.
      const php = scrubBuffer(Buffer.from(JSON.stringify({ k: v.value }).replace(/\//g, '\\/')), n).toString();
      expect(JSON.parse(php)).toEqual({ k: v.placeholder });
      // A literal backslash right before it: the JSON text (an escaped backslash, then the value) can also
      // be read as one borrowed backslash + the escaped-slash form, and the leftmost match wins. Known
      // limitation: the value is gone either way; the JSON escape may come out broken.
      const odd = scrubBuffer(Buffer.from(JSON.stringify({ k: `\\${v.value}` })), n);
      expect(odd.includes(Buffer.from(JSON.stringify(v.value).slice(1, -1)))).toBe(false);
      expect(odd.includes(Buffer.from(v.value))).toBe(false);
    }
  });

  it('property: an echo of the request in any form never shows the value, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.oneof(fc.constantFrom(...'abcXYZ019-_.~+/=:&?# "\\<>é€'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 8, maxLength: 40 }),
        fc.string({ maxLength: 5 }),
        fc.string({ maxLength: 5 }),
        fc.boolean(),
        fc.array(fc.nat(3000), { maxLength: 10 }),
        async (value, before, after, ascii, cuts) => {
          // Excluded shape (see the test below): a literal backslash right before a value with a '/' in it.
          fc.pre(!(before.endsWith('\\') && value.includes('/')));
          const v = secret({ value });
          const other = secret({ value: 'unrelated-secret-value-123' });
          const n = buildScrubNeedles([v, other]);
          const echo = {
            headers: { authorization: `Bearer ${value}`, basic: `Basic ${b64(`${before}:${value}${after}`)}` },
            body: `${before}${value}${after}`,
            query: `?k=${encodeURIComponent(value)}&f=${new URLSearchParams({ a: value }).toString()}`,
            jwt: b64url(JSON.stringify({ before, key: value, after })),
            raw64: b64(`${before}${value}`),
          };
          let text = JSON.stringify(echo);
          if (ascii) text = asciiJson(text);
          const input = Buffer.from(text, 'utf8');
          const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
          const chunks = [...points, input.length].map((end, i, all) => input.subarray(i === 0 ? 0 : all[i - 1], end));
          const streamed = await streamScrub(n, chunks);
          const oneShot = scrubBuffer(input, n);
          expect(streamed.equals(oneShot)).toBe(true);

          const valueBytes = Buffer.from(value, 'utf8');
          expect(streamed.includes(valueBytes)).toBe(false);
          const parsed = JSON.parse(streamed.toString('utf8')) as typeof echo;
          expect(parsed.headers.authorization).toBe(`Bearer ${v.placeholder}`);
          expect(parsed.body.includes(value)).toBe(false);
          const query = parsed.query.split(/[?&=]/).map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
          expect(query.some((part) => part.includes(value))).toBe(false);
          for (const encoded of [parsed.headers.basic.slice(6), parsed.jwt, parsed.raw64]) {
            expect(Buffer.from(encoded, 'base64').includes(valueBytes)).toBe(false);
            expect(Buffer.from(encoded, 'base64url').includes(valueBytes)).toBe(false);
          }
          const jwt = Buffer.from(parsed.jwt, 'base64url').toString('utf8');
          expect(jwt.includes(JSON.stringify(value).slice(1, -1))).toBe(false);
          for (const core of cores(valueBytes)) expect(streamed.includes(core)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
