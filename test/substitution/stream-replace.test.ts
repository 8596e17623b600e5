import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replaceLiteral } from '../../src/substitution/scan.js';
import {
  createReplaceStream,
  needleMatcher,
  placeholderMatcher,
  replaceAll,
  type Matcher,
  type ReplacePair,
} from '../../src/substitution/stream-replace.js';
import { placeholderArb, randomPlaceholder } from './helpers.js';

/** Naive reference: leftmost, then longest, then first given; output not rescanned. */
function reference(input: Buffer, pairs: readonly ReplacePair[]): Buffer {
  const needles = pairs.filter((p) => p.from.length > 0);
  const out: Buffer[] = [];
  let i = 0;
  let copied = 0;
  while (i < input.length) {
    let best: ReplacePair | undefined;
    for (const pair of needles) {
      if (i + pair.from.length <= input.length && input.subarray(i, i + pair.from.length).equals(pair.from)) {
        if (!best || pair.from.length > best.from.length) best = pair;
      }
    }
    if (best) {
      out.push(input.subarray(copied, i), best.to);
      i += best.from.length;
      copied = i;
    } else {
      i++;
    }
  }
  out.push(input.subarray(copied));
  return Buffer.concat(out);
}

/** Writes chunks one by one, checking the held-back bound after each, and returns the output. */
async function streamThrough(spec: readonly ReplacePair[] | Matcher, chunks: Buffer[], bound: number): Promise<Buffer> {
  const stream = createReplaceStream(spec);
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (const chunk of chunks) {
    stream.write(chunk);
    expect(stream.heldBackBytes).toBeLessThanOrEqual(bound);
  }
  stream.end();
  await done;
  return Buffer.concat(out);
}

function cut(input: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of [...points, input.length]) {
    chunks.push(input.subarray(last, point)); // empty chunks included on purpose
    last = point;
  }
  return chunks;
}

const bytesOf = (alphabet: string, max: number) => fc.string({ unit: fc.constantFrom(...alphabet), maxLength: max }).map((s) => Buffer.from(s, 'latin1'));

describe('replaceAll / createReplaceStream with needles', () => {
  it('table: leftmost-longest, first-given on equal needles, no rescanning', () => {
    const p = (from: string, to: string): ReplacePair => ({ from: Buffer.from(from), to: Buffer.from(to) });
    const cases: [string, ReplacePair[], string][] = [
      ['xabcx', [p('ab', '1'), p('abc', '2')], 'x2x'],
      ['xabcx', [p('bc', '1'), p('abc', '2')], 'x2x'],
      ['xabx', [p('b', '1'), p('ab', '2')], 'x2x'],
      ['aaaa', [p('aa', 'b')], 'bb'],
      ['aaa', [p('aa', 'a')], 'aa'],
      ['abab', [p('ab', 'ab')], 'abab'],
      ['ab', [p('ab', '1'), p('ab', '2')], '1'],
      ['abc', [p('', 'X')], 'abc'],
      ['abc', [], 'abc'],
      ['', [p('a', 'b')], ''],
      ['secret', [p('secret', '')], ''],
    ];
    for (const [input, pairs, expected] of cases) {
      expect(replaceAll(Buffer.from(input), pairs).toString()).toBe(expected);
      expect(reference(Buffer.from(input), pairs).toString()).toBe(expected);
    }
  });

  it('returns the same buffer when nothing matched', () => {
    const input = Buffer.from('hello');
    expect(replaceAll(input, [{ from: Buffer.from('zz'), to: Buffer.from('y') }])).toBe(input);
  });

  it('holds back only from where a needle could start', () => {
    const stream = createReplaceStream([{ from: Buffer.from('abc'), to: Buffer.from('X') }]);
    stream.on('data', () => {});
    stream.write(Buffer.from('xxxx'));
    expect(stream.heldBackBytes).toBe(0);
    stream.write(Buffer.from('xxab'));
    expect(stream.heldBackBytes).toBe(2);
    stream.write(Buffer.from('d'));
    expect(stream.heldBackBytes).toBe(0);
    const placeholders = createReplaceStream(placeholderMatcher(() => null));
    placeholders.on('data', () => {});
    placeholders.write(Buffer.from('x'.repeat(100)));
    expect(placeholders.heldBackBytes).toBe(0);
    placeholders.write(Buffer.from('yyveil_abc'));
    expect(placeholders.heldBackBytes).toBe(8);
    placeholders.write(Buffer.from('-'));
    expect(placeholders.heldBackBytes).toBe(0);
  });

  it('property: any chunking of a stream gives the one-shot output; held back <= longest - 1', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ from: bytesOf('ab\u0000\u00ff', 7), to: bytesOf('xyz', 5) }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.oneof(bytesOf('abc\u0000\u00ff', 8), fc.nat(4)), { maxLength: 20 }),
        fc.array(fc.nat(1000), { maxLength: 12 }),
        async (pairs, parts, cuts) => {
          const input = Buffer.concat(parts.map((part) => (typeof part === 'number' ? (pairs[part % pairs.length]!.from) : part)));
          const expected = reference(input, pairs);
          expect(replaceAll(input, pairs)).toEqual(expected);
          const longest = Math.max(1, ...pairs.map((pair) => pair.from.length));
          expect(await streamThrough(pairs, cut(input, cuts), longest - 1)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: many needles of 6+ bytes (the one-pass multi-needle search) agree with the naive reference, however cut', async () => {
    const longBytes = (alphabet: string) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: 6, maxLength: 16 }).map((s) => Buffer.from(s, 'latin1'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ from: fc.oneof(longBytes('ab'), longBytes('abcdefgh\u0000\u00ff')), to: bytesOf('xyz', 5) }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.oneof(bytesOf('abc\u0000\u00ff', 8), fc.nat(29)), { maxLength: 30 }),
        fc.array(fc.nat(1000), { maxLength: 12 }),
        async (pairs, parts, cuts) => {
          const input = Buffer.concat(parts.map((part) => (typeof part === 'number' ? pairs[part % pairs.length]!.from : part)));
          const expected = reference(input, pairs);
          expect(replaceAll(input, pairs)).toEqual(expected);
          const longest = Math.max(...pairs.map((pair) => pair.from.length));
          expect(await streamThrough(pairs, cut(input, cuts), longest - 1)).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: one byte per chunk gives the one-shot output', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ from: bytesOf('ab', 5), to: bytesOf('xy', 3) }), { minLength: 1, maxLength: 4 }), bytesOf('abc', 40), async (pairs, input) => {
        const chunks = [...input].map((byte) => Buffer.from([byte]));
        const longest = Math.max(1, ...pairs.map((pair) => pair.from.length));
        expect(await streamThrough(pairs, chunks, longest - 1)).toEqual(reference(input, pairs));
      }),
      { numRuns: 100 },
    );
  });
});

/** Naive reference for one needle that may have up to `max` line breaks (CRLF or LF) between its bytes. */
function wrappedReference(input: Buffer, from: Buffer, to: Buffer, max: number): Buffer {
  const out: Buffer[] = [];
  let copied = 0;
  for (let i = 0; i < input.length; ) {
    let j = i;
    const breaks: [number, Buffer][] = [];
    let k = 0;
    while (k < from.length && j < input.length) {
      if (input[j] === from[k]) {
        j++;
        k++;
      } else if (k > 0 && breaks.length < max && (input[j] === 10 || (input[j] === 13 && input[j + 1] === 10))) {
        const length = input[j] === 10 ? 1 : 2;
        breaks.push([k, input.subarray(j, j + length)]);
        j += length;
      } else break;
    }
    if (k < from.length) {
      i++;
      continue;
    }
    out.push(input.subarray(copied, i));
    let at = 0;
    for (const [where, bytes] of breaks) {
      const cutAt = Math.min(Math.max(where, at), to.length);
      out.push(to.subarray(at, cutAt), bytes);
      at = cutAt;
    }
    out.push(to.subarray(at));
    copied = i = j;
  }
  out.push(input.subarray(copied));
  return Buffer.concat(out);
}

describe('needles with line breaks (MIME base64)', () => {
  it('property: a needle is found with up to lineBreaks CRLF/LF anywhere inside it, streamed or not; breaks are kept', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Distinct bytes: the needle never overlaps itself (see wrapped-needle.ts for that case).
        fc.shuffledSubarray([...'ABCDEFGHIJKLMNOP'], { minLength: 2, maxLength: 16 }).map((chars) => Buffer.from(chars.join(''), 'latin1')),
        bytesOf('xyz', 6),
        fc.nat(3),
        fc.array(fc.oneof(bytesOf('ABq\r\n', 6), fc.array(fc.nat(20), { maxLength: 4 })), { maxLength: 12 }),
        fc.array(fc.nat(1000), { maxLength: 12 }),
        async (from, to, lineBreaks, parts, cuts) => {
          // a number array: the needle with a line break (LF or CRLF) before each listed byte
          const withBreaksAt = (positions: number[]) => {
            const pieces: Buffer[] = [];
            for (let k = 0; k < from.length; k++) {
              const count = positions.filter((p) => p % from.length === k && k > 0).length;
              for (let c = 0; c < count; c++) pieces.push(Buffer.from(positions.length % 2 === 0 ? '\r\n' : '\n'));
              pieces.push(from.subarray(k, k + 1));
            }
            return Buffer.concat(pieces);
          };
          const input = Buffer.concat(parts.map((part) => (Array.isArray(part) ? withBreaksAt(part) : part)));
          const pairs: ReplacePair[] = [{ from, to, lineBreaks }];
          const expected = wrappedReference(input, from, to, Math.min(lineBreaks, from.length - 1));
          expect(replaceAll(input, pairs)).toEqual(expected);
          expect(await streamThrough(pairs, cut(input, cuts), from.length + 2 * lineBreaks - 1)).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('placeholderMatcher', () => {
  it('property: streamed replacement equals the string scanner, split anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(placeholderArb, { minLength: 3, maxLength: 3 }),
        fc.array(fc.oneof(fc.string({ unit: fc.constantFrom(...'veil_Ab9 \u00e9'), maxLength: 10 }), fc.nat(2)), { maxLength: 12 }),
        fc.array(fc.nat(1000), { maxLength: 10 }),
        async (placeholders, parts, cuts) => {
          // placeholder 0 -> longer value, 1 -> shorter value, 2 -> unknown
          const values = new Map([
            [placeholders[0]!, 'a-much-longer-value-than-the-placeholder-itself-0123456789'],
            [placeholders[1]!, 'short'],
          ]);
          const text = parts.map((part) => (typeof part === 'number' ? placeholders[part]! : part)).join('');
          const input = Buffer.from(text, 'latin1');
          const seen: string[] = [];
          const matcher = placeholderMatcher((placeholder) => {
            seen.push(placeholder);
            const value = values.get(placeholder);
            return value === undefined ? null : Buffer.from(value, 'latin1');
          });
          const map = new Map([...values].map(([k, v]) => [k, { value: v }]));
          const expected = replaceLiteral(text, map as never, (secret) => (secret as unknown as { value: string }).value);
          const out = await streamThrough(matcher, cut(input, cuts), 36);
          expect(out.toString('latin1')).toBe(expected);
          // each known placeholder is looked up exactly once per occurrence
          const known = seen.filter((p) => values.has(p));
          expect(known.length).toBe(parts.filter((part) => typeof part === 'number' && part < 2).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('streams a large body in bounded memory, replacing at start, middle and end', async () => {
    const placeholder = randomPlaceholder();
    const matcher = placeholderMatcher((p) => (p === placeholder ? Buffer.from('VALUE') : null));
    const chunkSize = 65_536;
    const total = 256; // 16 MiB
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced === total) return void this.push(null);
        const chunk = Buffer.alloc(chunkSize, 'x');
        if (produced === 0) chunk.write(placeholder, 0);
        if (produced === total / 2) chunk.write(placeholder, chunkSize - 20); // split across chunks
        if (produced === total / 2 + 1) chunk.write(placeholder.slice(20), 0);
        if (produced === total - 1) chunk.write(placeholder, chunkSize - 37);
        produced++;
        this.push(chunk);
      },
    });
    const stream = createReplaceStream(matcher);
    let bytes = 0;
    let values = 0;
    let maxHeld = 0;
    let tail = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        const text = tail + chunk.toString('latin1');
        values += text.split('VALUE').length - 1;
        tail = text.slice(-4);
        maxHeld = Math.max(maxHeld, stream.heldBackBytes);
        callback();
      },
    });
    await pipeline(source, stream, sink);
    expect(values).toBe(3);
    expect(bytes).toBe(total * chunkSize - 3 * (37 - 5));
    expect(maxHeld).toBeLessThanOrEqual(36);
  });

  it('applies backpressure: write() returns false while nobody reads', () => {
    const stream = createReplaceStream(needleMatcher([{ from: Buffer.from('a'), to: Buffer.from('b') }]));
    let accepted = 0;
    while (stream.write(Buffer.alloc(1024, 'x')) && accepted < 10_000) accepted++;
    expect(accepted).toBeLessThan(10_000);
    stream.destroy();
  });
});
