import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { planResponseScrub } from '../../src/substitution/response.js';
import { buildScrubNeedles } from '../../src/substitution/scrub.js';
import { secret } from './helpers.js';

async function through(body: Buffer, transform: NonNullable<ReturnType<typeof planResponseScrub>['body']>): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([body.subarray(0, 5), body.subarray(5)]), transform, async function* (source) {
    for await (const chunk of source) out.push(Buffer.from(chunk as Buffer));
  });
  return Buffer.concat(out);
}

describe('planResponseScrub', () => {
  const s = secret({ value: 'sk-live-abcdef0123456789' });
  const needles = buildScrubNeedles([s]);
  const echo = Buffer.from(JSON.stringify({ authorization: `Bearer ${s.value}` }));

  it('scrubs headers and an identity body, dropping Content-Length', async () => {
    const plan = planResponseScrub({ rawHeaders: ['Content-Type', 'application/json', 'Content-Length', String(echo.length), 'X-Echo', s.value], needles, hasBody: true });
    expect(plan.rawHeaders).toEqual(['Content-Type', 'application/json', 'X-Echo', s.placeholder]);
    expect(plan.unscrubbable).toBe(false);
    expect(JSON.parse((await through(echo, plan.body!)).toString())).toEqual({ authorization: `Bearer ${s.placeholder}` });
  });

  for (const [coding, encode] of [
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const) {
    it(`decodes a ${coding} body, scrubs it and sends it decoded`, async () => {
      const compressed = encode(echo);
      const plan = planResponseScrub({ rawHeaders: ['content-encoding', coding, 'content-length', String(compressed.length)], needles, hasBody: true });
      expect(plan.rawHeaders).toEqual([]);
      expect((await through(compressed, plan.body!)).toString()).toBe(JSON.stringify({ authorization: `Bearer ${s.placeholder}` }));
    });
  }

  it('flags an unknown Content-Encoding as unscrubbable', () => {
    const plan = planResponseScrub({ rawHeaders: ['Content-Encoding', 'zstd', 'X', s.value], needles, hasBody: true });
    expect(plan).toEqual({ rawHeaders: ['Content-Encoding', 'zstd', 'X', s.placeholder], statusMessage: '', body: null, unscrubbable: true });
  });

  it('scrubs the reason phrase', () => {
    expect(planResponseScrub({ rawHeaders: [], statusMessage: `OK ${s.value}`, needles, hasBody: false }).statusMessage).toBe(`OK ${s.placeholder}`);
  });

  it('scrubs only headers when there is no body, and nothing without needles', () => {
    expect(planResponseScrub({ rawHeaders: ['Content-Length', '10', 'X', s.value], needles, hasBody: false })).toEqual({ rawHeaders: ['Content-Length', '10', 'X', s.placeholder], statusMessage: '', body: null, unscrubbable: false });
    const none = buildScrubNeedles([]);
    expect(planResponseScrub({ rawHeaders: ['Content-Length', '10', 'X', s.value], needles: none, hasBody: true })).toEqual({ rawHeaders: ['Content-Length', '10', 'X', s.value], statusMessage: '', body: null, unscrubbable: false });
  });
});
