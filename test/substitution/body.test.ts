import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyValueBytes, rewriteRequestBody, type BodyRewriteInput } from '../../src/substitution/body.js';
import { compileSecrets } from '../../src/substitution/compile.js';
import { replaceLiteral } from '../../src/substitution/scan.js';
import { BodyDecodeError, BodyTooLargeError, DisallowedPlaceholderError } from '../../src/substitution/errors.js';
import { randomPlaceholder, secret } from './helpers.js';

let tmpDir: string;
beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'veil-body-test-'));
});
afterAll(async () => {
  await rm(tmpDir, { recursive: true, force: true });
});

async function collect(readable: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readable) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const longer = secret({ name: 'LONG', value: 'L'.repeat(100) + '-long-value', locations: ['body'] });
const shorter = secret({ name: 'SHORT', value: 'short', locations: ['header', 'body'] });
const headerOnly = secret({ name: 'HDR', value: 'header-only-value', locations: ['header'] });
const elsewhere = secret({ name: 'ELSE', value: 'elsewhere-value', locations: ['body'], hosts: ['other.example.com'] });
const compiled = compileSecrets([longer, shorter, headerOnly, elsewhere]);

function input(rawHeaders: string[], overrides: Partial<BodyRewriteInput> = {}): BodyRewriteInput {
  return { compiled, host: 'api.example.com', allowUnrestricted: false, rawHeaders, memoryLimit: 1 << 20, hardCap: 1 << 24, tmpDir, ...overrides };
}

const withLength = (body: Buffer, extra: string[] = []) => ['Content-Type', 'text/plain', ...extra, 'Content-Length', String(body.length)];

describe('rewriteRequestBody', () => {
  it('passes the body through untouched when no secret may go into bodies for this host', async () => {
    const source = Readable.from([Buffer.from(`x=${longer.placeholder}`)]);
    const headers = ['Content-Length', '39'];
    const plan = await rewriteRequestBody(source, input(headers, { host: 'unrelated.example.org' }));
    expect(plan.mode).toBe('passthrough');
    expect(plan.body).toBe(source);
    expect(plan.rawHeaders).toEqual(headers);
    expect(plan.contentLength).toBe(39);
  });

  it('passes through a request without a body', async () => {
    const plan = await rewriteRequestBody(Readable.from([]), input(['Accept', '*/*']));
    expect(plan.mode).toBe('passthrough');
    expect(plan.contentLength).toBeNull();
  });

  it('computes the exact Content-Length for longer and shorter values, and reports what went in', async () => {
    const body = Buffer.from(`a=${longer.placeholder}&b=${shorter.placeholder}&c=${headerOnly.placeholder}&d=${elsewhere.placeholder}&e=${randomPlaceholder()}`);
    const plan = await rewriteRequestBody(Readable.from([body]), input(withLength(body)));
    const out = await collect(plan.body);
    const expected = body
      .toString()
      .replace(longer.placeholder, longer.value)
      .replace(shorter.placeholder, shorter.value);
    expect(out.toString()).toBe(expected);
    expect(plan.mode).toBe('buffered');
    expect(plan.spilled).toBe(false);
    expect(plan.contentLength).toBe(out.length);
    expect(plan.rawHeaders).toEqual(['Content-Type', 'text/plain', 'Content-Length', String(out.length)]);
    expect(plan.substituted).toEqual([longer, shorter]);
    expect(plan.disallowed.map((d) => d.name).sort()).toEqual(['ELSE', 'HDR']);
    expect(plan.candidates).toEqual([longer, shorter]);
  });

  it('property: random bodies, placeholders at random offsets, random chunks and memory limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.constantFrom(0, 1, 2, 3)), { maxLength: 12 }),
        fc.array(fc.nat(4000), { maxLength: 8 }),
        fc.integer({ min: 0, max: 600 }),
        async (parts, cuts, memoryLimit) => {
          const placeholders = [longer.placeholder, shorter.placeholder, headerOnly.placeholder, elsewhere.placeholder];
          const body = Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from(placeholders[p]!) : p)));
          const expected = Buffer.from(
            replaceLiteral(body.toString('latin1'), compiled.byPlaceholder, (s) => (s === longer || s === shorter ? s.value : null)),
            'latin1',
          );
          const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
          const chunks = [...points, body.length].map((end, i, all) => body.subarray(i === 0 ? 0 : all[i - 1], end)).filter((c) => c.length > 0);
          const plan = await rewriteRequestBody(Readable.from(chunks), input(['Content-Length', String(body.length)], { memoryLimit }));
          if (body.length === 0) {
            expect(plan.mode).toBe('passthrough');
            return;
          }
          const out = await collect(plan.body);
          expect(out.equals(expected)).toBe(true);
          expect(plan.contentLength).toBe(out.length);
          expect(plan.spilled).toBe(out.length > memoryLimit);
          if (plan.buffer) expect(plan.buffer.equals(expected)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('spills to a 0600 temp file above memoryLimit and leaves nothing behind', async () => {
    const filler = Buffer.alloc(200_000, 'x');
    const body = Buffer.concat([filler, Buffer.from(longer.placeholder), filler, Buffer.from(shorter.placeholder)]);
    const spills: { file: string; mode: number; dirMode: number }[] = [];
    const plan = await rewriteRequestBody(
      Readable.from([body.subarray(0, 150_000), body.subarray(150_000)]),
      input(withLength(body), {
        memoryLimit: 64 * 1024,
        onSpill: (file) => spills.push({ file, mode: statSync(file).mode & 0o777, dirMode: statSync(path.dirname(file)).mode & 0o777 }),
      }),
    );
    expect(plan.spilled).toBe(true);
    expect(spills).toHaveLength(1);
    expect(spills[0]!.mode).toBe(0o600);
    expect(spills[0]!.dirMode).toBe(0o700);
    expect(path.dirname(path.dirname(spills[0]!.file))).toBe(tmpDir);
    // removed as soon as it is open for reading
    expect(await readdir(tmpDir)).toEqual([]);
    const out = await collect(plan.body);
    expect(out.equals(Buffer.concat([filler, Buffer.from(longer.value), filler, Buffer.from(shorter.value)]))).toBe(true);
    expect(plan.contentLength).toBe(out.length);
  });

  it('fast path: a body that stays in memory whatever it holds comes back as one buffer, the same bytes as the stream', async () => {
    const body = Buffer.concat([Buffer.from('a='), Buffer.from(longer.placeholder), Buffer.from('&b='), Buffer.from(shorter.placeholder)]);
    // Split inside both placeholders: the replacer must hold the tails back across chunks.
    const chunks = [body.subarray(0, 10), body.subarray(10, 50), body.subarray(50, 60), body.subarray(60)];
    const plan = await rewriteRequestBody(Readable.from(chunks), input(withLength(body)));
    expect(plan.mode).toBe('buffered');
    expect(plan.buffer).not.toBeNull();
    expect(plan.buffer!.toString()).toBe(`a=${longer.value}&b=${shorter.value}`);
    expect((await collect(plan.body)).equals(plan.buffer!)).toBe(true);
    expect(plan.contentLength).toBe(plan.buffer!.length);
    expect(plan.substituted).toEqual([longer, shorter]);
  });

  it('fast path is not taken when the worst case could outgrow memoryLimit (the stream path may spill)', async () => {
    const body = Buffer.from(`k=${longer.placeholder}`);
    // 39 bytes could become 39 + 111 - 37 bytes: above a 60-byte limit even though this body would fit.
    const plan = await rewriteRequestBody(Readable.from([body]), input(withLength(body), { memoryLimit: 60 }));
    expect(plan.buffer).toBeNull();
    expect((await collect(plan.body)).toString()).toBe(`k=${longer.value}`);
  });

  it('fast path fails like the stream path: abort, source error, close before the end', async () => {
    const started = () => new Readable({ read() {} });
    const aborted = started();
    const controller = new AbortController();
    const pending = rewriteRequestBody(aborted, input(['Content-Length', '100'], { signal: controller.signal })).catch((e: unknown) => e);
    aborted.push(Buffer.from('x'.repeat(10)));
    setImmediate(() => controller.abort());
    expect(((await pending) as Error).name).toBe('AbortError');
    expect(aborted.destroyed).toBe(true);

    const failing = started();
    const failed = rewriteRequestBody(failing, input(['Content-Length', '100'])).catch((e: unknown) => e);
    setImmediate(() => failing.destroy(new Error('socket reset')));
    expect(((await failed) as Error).message).toBe('socket reset');

    const closing = started();
    const closed = rewriteRequestBody(closing, input(['Content-Length', '100'])).catch((e: unknown) => e);
    closing.push(Buffer.from('partial'));
    setImmediate(() => closing.destroy());
    expect(((await closed) as { code?: string }).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
  });

  it('keeps exactly memoryLimit bytes in memory and spills one byte more', async () => {
    for (const [extra, spilled] of [[0, false], [1, true]] as const) {
      const body = Buffer.concat([Buffer.from(shorter.placeholder), Buffer.alloc(100 + extra, 'q')]);
      const plan = await rewriteRequestBody(Readable.from([body]), input(withLength(body), { memoryLimit: 105 }));
      const out = await collect(plan.body);
      expect(out.length).toBe(105 + extra);
      expect(plan.spilled).toBe(spilled);
    }
  });

  it('refuses a declared length above the hard cap at once (413)', async () => {
    const source = Readable.from([Buffer.alloc(10)]);
    const error = await rewriteRequestBody(source, input(['Content-Length', '1001'], { hardCap: 1000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect((error as BodyTooLargeError).statusCode).toBe(413);
  });

  it('refuses a body that grows above the hard cap through substitution, removing the spill file', async () => {
    const body = Buffer.concat([Buffer.alloc(900, 'x'), Buffer.from(longer.placeholder)]);
    const error = await rewriteRequestBody(Readable.from([body]), input(withLength(body), { hardCap: 1000, memoryLimit: 100 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('removes the spill file when buffering is aborted', async () => {
    const controller = new AbortController();
    let spilled = false;
    const source = new Readable({
      read() {
        this.push(Buffer.alloc(4096, 'y'));
        if (spilled) setImmediate(() => controller.abort());
      },
    });
    const error = await rewriteRequestBody(source, input(['Content-Length', '100000000'], { memoryLimit: 1024, hardCap: 1 << 30, signal: controller.signal, onSpill: () => (spilled = true) })).catch((e: unknown) => e);
    expect(spilled).toBe(true);
    expect((error as Error).name).toBe('AbortError');
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('leaves no temp file when aborted while the spill file is being created', async () => {
    for (let round = 0; round < 5; round++) {
      const controller = new AbortController();
      let first = true;
      const source = new Readable({
        read() {
          this.push(Buffer.alloc(4096, 'y'));
          if (first) {
            first = false;
            setImmediate(() => controller.abort());
          }
        },
      });
      const error = await rewriteRequestBody(source, input(['Content-Length', '100000000'], { memoryLimit: 1024, hardCap: 1 << 30, signal: controller.signal })).catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      expect(await readdir(tmpDir)).toEqual([]);
    }
  });

  it('keeps a chunked body streaming with no length', async () => {
    const source = Readable.from([Buffer.from(`{"k":"${longer.placeholder.slice(0, 20)}`), Buffer.from(`${longer.placeholder.slice(20)}"}`)]);
    const plan = await rewriteRequestBody(source, input(['Transfer-Encoding', 'chunked', 'Content-Type', 'application/json']));
    expect(plan.mode).toBe('streaming');
    expect(plan.contentLength).toBeNull();
    expect(plan.rawHeaders).toEqual(['Transfer-Encoding', 'chunked', 'Content-Type', 'application/json']);
    expect(JSON.parse((await collect(plan.body)).toString())).toEqual({ k: longer.value });
    expect(plan.substituted).toEqual([longer]);
  });

  it('streams when told the request is chunked even if Transfer-Encoding was stripped', async () => {
    const plan = await rewriteRequestBody(Readable.from([Buffer.from(`k=${shorter.placeholder}`)]), input([], { chunked: true }));
    expect(plan.mode).toBe('streaming');
    expect((await collect(plan.body)).toString()).toBe('k=short');
    const none = await rewriteRequestBody(Readable.from([]), input(['Transfer-Encoding', 'chunked'], { chunked: false }));
    expect(none.mode).toBe('passthrough');
  });

  /** Reads `body` until it ends or fails: what it emitted, and the error (null when it ended). */
  async function drain(body: Readable): Promise<{ emitted: Buffer; error: unknown }> {
    const out: Buffer[] = [];
    try {
      for await (const chunk of body) out.push(Buffer.from(chunk as Buffer));
      return { emitted: Buffer.concat(out), error: null };
    } catch (error) {
      return { emitted: Buffer.concat(out), error };
    }
  }

  it('blockDisallowed: a streamed body fails at a disallowed placeholder, which is never emitted (wherever the chunks split)', async () => {
    const text = `k=${shorter.placeholder}&pad=${'p'.repeat(300)}&bad=${elsewhere.placeholder}&after=${'a'.repeat(100)}`;
    const rewritten = text.replace(shorter.placeholder, 'short');
    const cut = rewritten.indexOf(elsewhere.placeholder);
    const body = Buffer.from(text, 'latin1');
    const at = text.indexOf(elsewhere.placeholder);
    for (const split of [1, 40, at - 1, at, at + 1, at + 20, at + 37, body.length - 1]) {
      const plan = await rewriteRequestBody(Readable.from([body.subarray(0, split), body.subarray(split)]), input(['Transfer-Encoding', 'chunked'], { blockDisallowed: true }));
      expect(plan.mode).toBe('streaming');
      const { emitted, error } = await drain(plan.body);
      expect(error).toBeInstanceOf(DisallowedPlaceholderError);
      expect((error as DisallowedPlaceholderError).statusCode).toBe(403);
      expect((error as DisallowedPlaceholderError).secrets).toEqual([{ name: 'ELSE', where: 'body' }]);
      expect((error as Error).message).not.toContain(elsewhere.value);
      // The bytes before the placeholder may have gone out (rewritten); the placeholder never does.
      const seen = emitted.toString('latin1');
      expect(seen.length).toBeLessThanOrEqual(cut);
      expect(rewritten.startsWith(seen)).toBe(true);
      expect(plan.disallowed).toEqual([{ name: 'ELSE', where: 'body' }]);
    }
  });

  it('blockDisallowed: also fails a placeholder that ends the body; without the option it stays', async () => {
    const source = new PassThrough();
    const plan = await rewriteRequestBody(source, input(['Transfer-Encoding', 'chunked'], { blockDisallowed: true }));
    source.write(`ok=${shorter.placeholder}&`);
    source.end(`bad=${elsewhere.placeholder}`);
    const { emitted, error } = await drain(plan.body);
    expect(error).toBeInstanceOf(DisallowedPlaceholderError);
    expect(emitted.toString()).not.toContain(elsewhere.placeholder);
    expect(`ok=short&bad=`.startsWith(emitted.toString())).toBe(true);

    const passing = await rewriteRequestBody(Readable.from([Buffer.from(`bad=${elsewhere.placeholder}`)]), input(['Transfer-Encoding', 'chunked']));
    expect((await collect(passing.body)).toString()).toBe(`bad=${elsewhere.placeholder}`);
    expect(passing.disallowed).toEqual([{ name: 'ELSE', where: 'body' }]);
  });

  it('blockDisallowed: a gzip body is cut before the placeholder reaches the encoder', async () => {
    const plain = Buffer.from(`k=${shorter.placeholder}&${'z'.repeat(5000)}&bad=${elsewhere.placeholder}`);
    const compressed = zlib.gzipSync(plain);
    const plan = await rewriteRequestBody(Readable.from([compressed.subarray(0, 100), compressed.subarray(100)]), input(['Content-Encoding', 'gzip', 'Transfer-Encoding', 'chunked'], { blockDisallowed: true }));
    const { emitted, error } = await drain(plan.body);
    expect(error).toBeInstanceOf(DisallowedPlaceholderError);
    const decoded = emitted.length === 0 ? '' : zlib.gunzipSync(emitted, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('latin1');
    expect(decoded).not.toContain(elsewhere.placeholder);
  });

  for (const [coding, encode, decode] of [
    ['gzip', zlib.gzipSync, zlib.gunzipSync],
    ['x-gzip', zlib.gzipSync, zlib.gunzipSync],
    ['deflate', zlib.deflateSync, zlib.inflateSync],
    ['deflate', zlib.deflateRawSync, zlib.inflateRawSync],
    ['br', zlib.brotliCompressSync, zlib.brotliDecompressSync],
    ['gzip, br', (b: Buffer) => zlib.brotliCompressSync(zlib.gzipSync(b)), (b: Buffer) => zlib.gunzipSync(zlib.brotliDecompressSync(b))],
  ] as const) {
    it(`decodes, substitutes and re-encodes Content-Encoding ${coding} (${encode.name})`, async () => {
      const plain = Buffer.from(`secret=${shorter.placeholder}&more=${'z'.repeat(5000)}&again=${shorter.placeholder}`);
      const compressed = encode(plain);
      for (const framing of ['length', 'chunked'] as const) {
        const headers = ['Content-Encoding', coding, ...(framing === 'length' ? ['Content-Length', String(compressed.length)] : ['Transfer-Encoding', 'chunked'])];
        const plan = await rewriteRequestBody(Readable.from([compressed.subarray(0, 7), compressed.subarray(7)]), input(headers));
        const out = await collect(plan.body);
        expect(decode(out).toString()).toBe(plain.toString().replaceAll(shorter.placeholder, 'short'));
        if (framing === 'length') expect(plan.contentLength).toBe(out.length);
        expect(plan.rawHeaders.slice(0, 2)).toEqual(['Content-Encoding', coding]);
      }
    });
  }

  it('streams a few MiB of deflate (zlib and raw) through decode -> replace -> encode with a slow reader', async () => {
    const piece = Buffer.from(`${shorter.placeholder}${'0123456789abcdef'.repeat(4000)}`);
    const plain = Buffer.concat(Array.from({ length: 64 }, () => piece)); // ~4 MiB, 64 placeholders
    const expected = plain.toString('latin1').replaceAll(shorter.placeholder, 'short');
    for (const [encode, decode] of [
      [zlib.deflateSync, zlib.inflateSync],
      [zlib.deflateRawSync, zlib.inflateRawSync],
    ] as const) {
      const compressed = encode(plain);
      const chunks = Array.from({ length: Math.ceil(compressed.length / 1000) }, (_, i) => compressed.subarray(i * 1000, (i + 1) * 1000));
      const plan = await rewriteRequestBody(Readable.from(chunks), input(['Content-Encoding', 'deflate', 'Transfer-Encoding', 'chunked']));
      const out: Buffer[] = [];
      for await (const chunk of plan.body) {
        out.push(chunk as Buffer);
        if (out.length % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(decode(Buffer.concat(out)).toString('latin1') === expected).toBe(true);
    }
  });

  it('passes an unknown Content-Encoding through untouched', async () => {
    const body = Buffer.from(`k=${shorter.placeholder}`);
    const source = Readable.from([body]);
    const plan = await rewriteRequestBody(source, input(['Content-Encoding', 'zstd', 'Content-Length', String(body.length)]));
    expect(plan.mode).toBe('passthrough');
    expect(plan.body).toBe(source);
    expect((await collect(plan.body)).equals(body)).toBe(true);
  });

  it('reports a body that does not decode (400)', async () => {
    const body = Buffer.from('definitely not gzip');
    const error = await rewriteRequestBody(Readable.from([body]), input(['Content-Encoding', 'gzip', 'Content-Length', String(body.length)])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyDecodeError);
    expect((error as BodyDecodeError).statusCode).toBe(400);
  });

  it('escapes values for JSON and form bodies so the server decodes exactly the value', async () => {
    const tricky = secret({ name: 'TRICKY', value: 'a"b\\c\nd&e=f+g h/é€', locations: ['body'] });
    const c = compileSecrets([tricky]);
    const json = Buffer.from(`{"password":"${tricky.placeholder}","n":1}`);
    const jsonPlan = await rewriteRequestBody(Readable.from([json]), input(['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(json.length)], { compiled: c }));
    expect(JSON.parse((await collect(jsonPlan.body)).toString('utf8'))).toEqual({ password: tricky.value, n: 1 });

    const form = Buffer.from(`grant_type=client_credentials&client_secret=${tricky.placeholder}&x=1`);
    const formPlan = await rewriteRequestBody(Readable.from([form]), input(['content-type', 'application/x-www-form-urlencoded', 'Content-Length', String(form.length)], { compiled: c }));
    const params = new URLSearchParams((await collect(formPlan.body)).toString('latin1'));
    expect([...params.keys()]).toEqual(['grant_type', 'client_secret', 'x']);
    expect(params.get('client_secret')).toBe(tricky.value);

    const raw = Buffer.from(`--b\r\n\r\n${tricky.placeholder}\r\n--b--`);
    const rawPlan = await rewriteRequestBody(Readable.from([raw]), input(['Content-Type', 'multipart/form-data; boundary=b', 'Content-Length', String(raw.length)], { compiled: c }));
    expect((await collect(rawPlan.body)).toString('utf8')).toBe(`--b\r\n\r\n${tricky.value}\r\n--b--`);
  });

  it('bodyValueBytes: URL-safe API keys are inserted unchanged in every form', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~'), maxLength: 40 }), (value) => {
        for (const form of ['raw', 'json', 'form'] as const) expect(bodyValueBytes(value, form).toString('latin1')).toBe(value);
      }),
      { numRuns: 100 },
    );
  });
});
