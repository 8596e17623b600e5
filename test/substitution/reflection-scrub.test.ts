/**
 * Reflection encodings (issue 12): an upstream that echoes a value hex-dumped, percent-encoded
 * byte by byte (once or twice), JSON-escaped char by char, as HTML entities, or inside MIME base64
 * wrapped at 76 columns never hands the value back, however the response is cut into chunks; text
 * that only looks similar is left alone. The encoders (test/helpers/reflections.ts) are written
 * independently of src/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildScrubNeedles, createScrubStream, scrubBuffer, type ScrubNeedles } from '../../src/substitution/scrub.js';
import { ENCODERS, mime } from '../helpers/reflections.js';
import { secret } from './helpers.js';

async function streamScrub(needles: ScrubNeedles, input: Buffer, cuts: number[]): Promise<Buffer> {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks = [...points, input.length].map((end, i, all) => input.subarray(i === 0 ? 0 : all[i - 1], end));
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

const VALUE_CHARS = [...'abcXYZ0189-_.~+/=:&?#%<>"\' \\é€😀'];
const valueArb = fc.string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 8, maxLength: 48, size: 'max' });
/** Text around an echo: nothing of the value's alphabet that could extend a match in a surprising way. */
const innocentArb = fc.string({ unit: fc.constantFrom(...'qwrtyuiopQWRTY \n,;{}[]'), maxLength: 12 });

/**
 * How the placeholder may come back in place of `form`: written by the same encoder, unless the
 * form does not tell the encoders apart. A form without hex letters (digits hex-dumped) does not
 * tell which case was used; a value whose every char encodeURIComponent escapes has an every-byte
 * form that is also its plain percent form (once or twice encoded), whose replacement is the
 * placeholder itself. Each of these decodes to the placeholder.
 */
function acceptableTails(value: string, form: string, sameEncoder: string, placeholder: string): string[] {
  const tails = [sameEncoder];
  if (form.toLowerCase() === form.toUpperCase()) tails.push(sameEncoder.toLowerCase(), sameEncoder.toUpperCase());
  const component = encodeURIComponent(value);
  const plainPercent = [component, component.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())];
  if ([...plainPercent, ...plainPercent.map((f) => f.replace(/%/g, '%25'))].includes(form)) tails.push(placeholder);
  return tails;
}

describe('scrubbing reflection encodings', () => {
  it('table: every form of an awkward value becomes the same form of the placeholder', () => {
    const v = secret({ value: `p&ss<w>"rd'-é-€-42` });
    const n = buildScrubNeedles([v]);
    for (const [name, encode] of Object.entries(ENCODERS)) {
      const out = scrubBuffer(Buffer.from(`<p>${encode(v.value)}</p>`), n).toString('utf8');
      expect(out, name).toBe(`<p>${encode(v.placeholder)}</p>`);
    }
  });

  it('a longer form that ends with the value (JSON `\\\\` + value) never rewrites the bits of the byte before it', () => {
    // Found by the MIME property: base64 of the JSON form matched with its first char's 4 bits
    // taken from the preceding byte (0x8c and 0x5c agree in their low nibble), damaging it.
    const v = secret({ value: '\\aaaaaaaa' });
    const before = Buffer.from([0, 0, 0, 0, 140]);
    const input = Buffer.concat([before, Buffer.from(v.value)]).toString('base64');
    const decoded = Buffer.from(scrubBuffer(Buffer.from(input), buildScrubNeedles([v])).toString(), 'base64');
    expect(decoded.subarray(0, before.length).equals(before)).toBe(true);
    expect(decoded.includes(Buffer.from(v.value))).toBe(false);
  });

  it('property: each encoding of a random value is removed, streamed or one-shot, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(valueArb, fc.constantFrom(...Object.keys(ENCODERS)), innocentArb, innocentArb, fc.array(fc.nat(600), { maxLength: 8 }), async (value, name, before, after, cuts) => {
        const v = secret({ value });
        const n = buildScrubNeedles([v, secret({ value: 'unrelated-secret-value-123' })]);
        const form = ENCODERS[name]!(value);
        const input = Buffer.from(`${before}${form}${after}${form}`, 'utf8');
        const streamed = await streamScrub(n, input, cuts);
        expect(streamed.equals(scrubBuffer(input, n))).toBe(true);
        expect(streamed.includes(Buffer.from(form, 'utf8'))).toBe(false);
        expect(streamed.includes(Buffer.from(value, 'utf8'))).toBe(false);
        const text = streamed.toString('utf8');
        expect(text.startsWith(before)).toBe(true);
        expect(acceptableTails(value, form, ENCODERS[name]!(v.placeholder), v.placeholder).some((tail) => text.endsWith(tail))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('property: a value inside MIME base64 (76 columns, CRLF or LF, any alignment) is removed; what precedes it decodes intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        valueArb,
        // size 'max': long enough prefixes that the value's encoding crosses line breaks (lines of 76).
        fc.uint8Array({ maxLength: 200, size: 'max' }),
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom('\r\n', '\n'),
        fc.array(fc.nat(1000), { maxLength: 8 }),
        async (value, before, after, eol, cuts) => {
          const v = secret({ value });
          const n = buildScrubNeedles([v]);
          const valueBytes = Buffer.from(value, 'utf8');
          const body = mime(Buffer.concat([before, valueBytes, after]), eol);
          const input = Buffer.from(`Content-Transfer-Encoding: base64${eol}${eol}${body}${eol}`, 'latin1');
          const streamed = await streamScrub(n, input, cuts);
          expect(streamed.equals(scrubBuffer(input, n))).toBe(true);
          const decoded = Buffer.from(streamed.toString('latin1').split(`${eol}${eol}`)[1]!.replace(/\r?\n/g, ''), 'base64');
          expect(decoded.includes(valueBytes)).toBe(false);
          expect(decoded.subarray(0, before.length).equals(Buffer.from(before))).toBe(true);
          // Line breaks are kept (the body is still MIME-shaped) and no base64 line grew past 76 + the placeholder's.
          expect(streamed.toString('latin1').split(eol).length).toBe(input.toString('latin1').split(eol).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: innocent text is untouched: other values in every form, the value\'s forms cut short, MIME of other data', () => {
    fc.assert(
      fc.property(valueArb, valueArb, innocentArb, fc.uint8Array({ maxLength: 120 }), (value, otherValue, filler, data) => {
        fc.pre(!otherValue.includes(value) && !value.includes(otherValue));
        const n = buildScrubNeedles([secret({ value })]);
        const parts = [filler, mime(Buffer.from(data), '\r\n')];
        for (const encode of Object.values(ENCODERS)) {
          parts.push(encode(otherValue));
          // The value minus its last char: a prefix of each form, never the whole form.
          parts.push(encode([...value].slice(0, -1).join('')));
        }
        const text = parts.join(' | ');
        // The value itself must not turn up by accident (e.g. "aaaa " next to the separator).
        fc.pre(!text.includes(value) && Object.values(ENCODERS).every((encode) => !text.includes(encode(value))));
        const input = Buffer.from(text, 'utf8');
        expect(scrubBuffer(input, n)).toBe(input);
      }),
      { numRuns: 300 },
    );
  });
});
