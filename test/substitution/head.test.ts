import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSecrets, isPlaceholder } from '../../src/substitution/compile.js';
import { urlValueForm } from '../../src/substitution/encode.js';
import { rewriteRequestHead } from '../../src/substitution/head.js';
import type { HeadRewriteInput } from '../../src/substitution/types.js';
import { count, placeholderArb, randomPlaceholder, secret } from './helpers.js';

function run(partial: Partial<HeadRewriteInput> & Pick<HeadRewriteInput, 'compiled'>) {
  return rewriteRequestHead({ host: 'api.example.com', target: '/', rawHeaders: [], allowUnrestricted: false, ...partial });
}

describe('compileSecrets', () => {
  it('maps placeholders to secrets, first wins on a duplicate', () => {
    const a = secret({ value: 'a' });
    const b = secret({ value: 'b', placeholder: a.placeholder });
    const c = secret({ value: 'c' });
    const compiled = compileSecrets([a, b, c]);
    expect(compiled.secrets).toEqual([a, b, c]);
    expect(compiled.byPlaceholder.get(a.placeholder)).toBe(a);
    expect(compiled.byPlaceholder.get(c.placeholder)).toBe(c);
    expect(compiled.byPlaceholder.size).toBe(2);
  });

  it('recognizes the placeholder shape', () => {
    expect(isPlaceholder(randomPlaceholder())).toBe(true);
    expect(isPlaceholder('veil_' + 'a'.repeat(31))).toBe(false);
    expect(isPlaceholder('veil_' + 'a'.repeat(31) + '-')).toBe(false);
    expect(isPlaceholder('Veil_' + 'a'.repeat(32))).toBe(false);
  });
});

describe('rewriteRequestHead: headers', () => {
  const key = secret({ name: 'OPENAI', value: 'sk-live-123' });
  const other = secret({ name: 'OTHER', value: 'other-value', hosts: ['other.example.com'] });
  const unmounted = randomPlaceholder();
  const compiled = compileSecrets([key, other]);

  it('swaps in Authorization, Cookie and custom headers, keeping names, casing and order', () => {
    const result = run({
      compiled,
      rawHeaders: ['Host', 'api.example.com', 'authorization', `Bearer ${key.placeholder}`, 'Cookie', `a=1; k=${key.placeholder}; b=2`, 'X-My-KEY', key.placeholder],
    });
    expect(result.rawHeaders).toEqual(['Host', 'api.example.com', 'authorization', 'Bearer sk-live-123', 'Cookie', 'a=1; k=sk-live-123; b=2', 'X-My-KEY', 'sk-live-123']);
    expect(result.substituted).toEqual([key]);
    expect(result.disallowed).toEqual([]);
    expect(result.unsafe).toEqual([]);
  });

  it('leaves placeholders of unmounted secrets alone and does not report them', () => {
    const result = run({ compiled, rawHeaders: ['X-A', `${unmounted}`, 'X-B', `${key.placeholder}/${unmounted}`] });
    expect(result.rawHeaders).toEqual(['X-A', unmounted, 'X-B', `sk-live-123/${unmounted}`]);
    expect(result.disallowed).toEqual([]);
    expect(result.substituted).toEqual([key]);
  });

  it('reports a mounted secret for a host not on its allowlist and leaves it', () => {
    const result = run({ compiled, rawHeaders: ['X-A', other.placeholder, 'X-B', other.placeholder] });
    expect(result.rawHeaders).toEqual(['X-A', other.placeholder, 'X-B', other.placeholder]);
    expect(result.disallowed).toEqual([{ name: 'OTHER', where: 'header' }]);
    expect(result.substituted).toEqual([]);
  });

  it('matches wildcards at any depth but not the apex', () => {
    const wild = secret({ name: 'WILD', value: 'w', hosts: ['*.example.com'] });
    const c = compileSecrets([wild]);
    expect(run({ compiled: c, host: 'a.b.example.com', rawHeaders: ['X', wild.placeholder] }).rawHeaders).toEqual(['X', 'w']);
    const apex = run({ compiled: c, host: 'example.com', rawHeaders: ['X', wild.placeholder] });
    expect(apex.rawHeaders).toEqual(['X', wild.placeholder]);
    expect(apex.disallowed).toEqual([{ name: 'WILD', where: 'header' }]);
  });

  it('normalizes stored host patterns defensively (case, trailing dot)', () => {
    const s = secret({ value: 'v', hosts: ['API.Example.COM.'] });
    expect(run({ compiled: compileSecrets([s]), rawHeaders: ['X', s.placeholder] }).rawHeaders).toEqual(['X', 'v']);
    const broken = secret({ value: 'v', hosts: ['not a host'] });
    const result = run({ compiled: compileSecrets([broken]), rawHeaders: ['X', broken.placeholder], allowUnrestricted: true });
    expect(result.rawHeaders).toEqual(['X', broken.placeholder]);
  });

  it('substitutes a secret without hosts only when unrestricted secrets are allowed', () => {
    const open = secret({ name: 'OPEN', value: 'open-value', hosts: [] });
    const c = compileSecrets([open]);
    const strict = run({ compiled: c, rawHeaders: ['X', open.placeholder] });
    expect(strict.rawHeaders).toEqual(['X', open.placeholder]);
    expect(strict.disallowed).toEqual([{ name: 'OPEN', where: 'header' }]);
    expect(run({ compiled: c, rawHeaders: ['X', open.placeholder], allowUnrestricted: true }).rawHeaders).toEqual(['X', 'open-value']);
  });

  it("respects the secret's locations", () => {
    const urlOnly = secret({ name: 'URLONLY', value: 'u', locations: ['url'] });
    const result = run({ compiled: compileSecrets([urlOnly]), rawHeaders: ['X', urlOnly.placeholder], target: `/x?k=${urlOnly.placeholder}` });
    expect(result.rawHeaders).toEqual(['X', urlOnly.placeholder]);
    expect(result.target).toBe('/x?k=u');
    expect(result.disallowed).toEqual([{ name: 'URLONLY', where: 'header' }]);
    const headerOnly = secret({ name: 'HDRONLY', value: 'h', locations: ['header'] });
    const r2 = run({ compiled: compileSecrets([headerOnly]), rawHeaders: ['X', headerOnly.placeholder], target: `/${headerOnly.placeholder}` });
    expect(r2.rawHeaders).toEqual(['X', 'h']);
    expect(r2.target).toBe(`/${headerOnly.placeholder}`);
    expect(r2.disallowed).toEqual([{ name: 'HDRONLY', where: 'url' }]);
  });

  it('never inserts a value with CR, LF, NUL or another control char; reports it as unsafe by name', () => {
    for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\u0000b', 'a\u0001b', 'a\u007fb', 'a\uD800b']) {
      const bad = secret({ name: 'BAD', value });
      const result = run({ compiled: compileSecrets([bad]), rawHeaders: ['X', `Bearer ${bad.placeholder}`] });
      expect(result.rawHeaders).toEqual(['X', `Bearer ${bad.placeholder}`]);
      expect(result.unsafe).toEqual([{ name: 'BAD', where: 'header' }]);
      expect(result.substituted).toEqual([]);
    }
    const tab = secret({ value: 'a\tb' });
    expect(run({ compiled: compileSecrets([tab]), rawHeaders: ['X', tab.placeholder] }).rawHeaders).toEqual(['X', 'a\tb']);
  });

  it('writes a non-ASCII value as UTF-8 bytes in latin1 form (what Node and undici send)', () => {
    const s = secret({ value: 'pässwörd€' });
    const [, value] = run({ compiled: compileSecrets([s]), rawHeaders: ['X', s.placeholder] }).rawHeaders;
    expect(Buffer.from(value!, 'latin1').toString('utf8')).toBe('pässwörd€');
  });

  it('does not touch the Host header', () => {
    const result = run({ compiled, rawHeaders: ['HOST', key.placeholder] });
    expect(result.rawHeaders).toEqual(['HOST', key.placeholder]);
    expect(result.substituted).toEqual([]);
  });

  it('finds placeholders glued to other text and next to unknown candidates', () => {
    const tail = 'A'.repeat(28) + 'veil'; // candidate whose tail ends in "veil"
    const value = `x${key.placeholder}y veil_${tail}${key.placeholder.slice(4)}`;
    // the second key placeholder starts inside the unknown candidate "veil_AAAA…veil"
    const [, out] = run({ compiled, rawHeaders: ['X', value] }).rawHeaders;
    expect(out).toBe(`xsk-live-123y veil_${'A'.repeat(28)}sk-live-123`);
  });

  it('lists each substituted secret once', () => {
    const second = secret({ name: 'SECOND', value: 's2' });
    const c = compileSecrets([key, second]);
    const result = run({ compiled: c, rawHeaders: ['A', key.placeholder, 'B', `${second.placeholder}${key.placeholder}`], target: `/${second.placeholder}` });
    expect(result.substituted).toEqual([key, second]);
  });

  it('does not mutate its input', () => {
    const headers = ['X', key.placeholder];
    run({ compiled, rawHeaders: headers });
    expect(headers).toEqual(['X', key.placeholder]);
  });
});

describe('rewriteRequestHead: target', () => {
  const key = secret({ name: 'KEY', value: 'AbC-12_3.x~' });
  const compiled = compileSecrets([key]);

  it('keeps a URL-safe value byte-identical in path and query', () => {
    const result = run({ compiled, target: `/v1/${key.placeholder}/x?key=${key.placeholder}&b=1` });
    expect(result.target).toBe('/v1/AbC-12_3.x~/x?key=AbC-12_3.x~&b=1');
    expect(result.substituted).toEqual([key]);
  });

  it('finds percent-encoded placeholders (any placeholder char, either hex case)', () => {
    const p = key.placeholder;
    const variants = [
      `veil%5F${p.slice(5)}`,
      `%76eil%5f${p.slice(5)}`,
      [...p].map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).join(''),
      `${p.slice(0, 10)}%${p.charCodeAt(10).toString(16)}${p.slice(11)}`,
    ];
    for (const variant of variants) {
      expect(run({ compiled, target: `/a/${variant}?q=${variant}` }).target).toBe('/a/AbC-12_3.x~?q=AbC-12_3.x~');
    }
    // an encoded char outside the placeholder alphabet does not make a placeholder
    expect(run({ compiled, target: `/veil%2D${p.slice(5)}` }).target).toBe(`/veil%2D${p.slice(5)}`);
    // headers are not percent-decoded
    expect(run({ compiled, rawHeaders: ['X', `veil%5F${p.slice(5)}`] }).rawHeaders).toEqual(['X', `veil%5F${p.slice(5)}`]);
  });

  it('percent-encodes what could change the URL structure', () => {
    const s = secret({ value: 'a/b?c#d e&f=g+h;i%j' });
    const c = compileSecrets([s]);
    const result = run({ compiled: c, target: `/p/${s.placeholder}/q?x=${s.placeholder}&y=1` });
    expect(result.target).toBe('/p/a%2Fb%3Fc%23d%20e%26f=g+h%3Bi%25j/q?x=a/b?c%23d%20e%26f%3Dg%2Bh%3Bi%25j&y=1');
    const url = new URL(result.target, 'http://h');
    expect(url.pathname.split('/')).toHaveLength(4);
    expect(decodeURIComponent(url.pathname.split('/')[2]!)).toBe(s.value);
    expect([...url.searchParams.keys()]).toEqual(['x', 'y']);
    expect(url.searchParams.get('x')).toBe(s.value);
  });

  it('treats a value with CR, LF or NUL as unsafe in the URL', () => {
    const s = secret({ name: 'CRLF', value: 'a\r\nb' });
    const result = run({ compiled: compileSecrets([s]), target: `/?k=${s.placeholder}` });
    expect(result.target).toBe(`/?k=${s.placeholder}`);
    expect(result.unsafe).toEqual([{ name: 'CRLF', where: 'url' }]);
  });

  it('refuses "." and ".." in the path (dot segments) but not in the query', () => {
    for (const value of ['.', '..']) {
      const s = secret({ name: 'DOTS', value });
      const c = compileSecrets([s]);
      const result = run({ compiled: c, target: `/a/${s.placeholder}/b` });
      expect(result.target).toBe(`/a/${s.placeholder}/b`);
      expect(result.unsafe).toEqual([{ name: 'DOTS', where: 'url' }]);
      expect(run({ compiled: c, target: `/a?k=${s.placeholder}` }).target).toBe(`/a?k=${value}`);
    }
    const three = secret({ value: '...' });
    expect(run({ compiled: compileSecrets([three]), target: `/a/${three.placeholder}` }).target).toBe('/a/...');
  });

  it('reports a disallowed host for the URL too', () => {
    const result = run({ compiled, host: 'evil.example.net', target: `/?k=${key.placeholder}` });
    expect(result.target).toBe(`/?k=${key.placeholder}`);
    expect(result.disallowed).toEqual([{ name: 'KEY', where: 'url' }]);
  });

  it('property: any value survives a round trip through path segment and query parameter', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), (a, b) => {
        for (const value of [a, b]) {
          if (/[\r\n\u0000]/.test(value) || value === '.' || value === '..') continue;
          const s = secret({ value });
          const target = `/seg/${s.placeholder}/end?x=${s.placeholder}&y=2`;
          const result = run({ compiled: compileSecrets([s]), target });
          const url = new URL(result.target, 'http://h');
          const segments = url.pathname.split('/');
          expect(segments).toHaveLength(4);
          expect(segments[3]).toBe('end');
          expect(decodeURIComponent(segments[2]!)).toBe(value);
          expect([...url.searchParams.keys()]).toEqual(['x', 'y']);
          expect(url.searchParams.get('x')).toBe(value);
          expect(url.hash).toBe('');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('unreserved values are never encoded', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~'), maxLength: 40 }), (value) => {
        expect(urlValueForm(value, 'path')).toBe(value === '.' || value === '..' ? null : value);
        expect(urlValueForm(value, 'query')).toBe(value);
      }),
      { numRuns: 100 },
    );
  });
});

describe('rewriteRequestHead: properties', () => {
  type Kind = 'allowed' | 'wrongHost' | 'wrongLocation' | 'unmounted' | 'unsafe';
  const kinds: Kind[] = ['allowed', 'wrongHost', 'wrongLocation', 'unmounted', 'unsafe'];

  const scenario = fc.record({
    values: fc.array(fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.+/=~ '), minLength: 1, maxLength: 20 }), { minLength: 5, maxLength: 5 }),
    placeholders: fc.uniqueArray(placeholderArb, { minLength: 5, maxLength: 5 }),
    headers: fc.array(
      fc.tuple(
        fc.constantFrom('Authorization', 'cookie', 'X-Api-Key', 'x-custom', 'Accept'),
        fc.array(fc.oneof(fc.string({ unit: fc.constantFrom(...'ab veil_:=;'), maxLength: 8 }), fc.integer({ min: 0, max: 4 })), { maxLength: 6 }),
      ),
      { maxLength: 8 },
    ),
    targetParts: fc.array(fc.oneof(fc.string({ unit: fc.constantFrom(...'ab/?=&veil_'), maxLength: 6 }), fc.integer({ min: 0, max: 4 })), { maxLength: 8 }),
  });

  it('only allowed, mounted, safe secrets are swapped; everything else is left and reported as specified', () => {
    fc.assert(
      fc.property(scenario, ({ values, placeholders, headers, targetParts }) => {
        const secrets = kinds.map((kind, i) =>
          secret({
            name: `S_${kind}`,
            // distinct values, none containing a placeholder
            value: kind === 'unsafe' ? `${values[i]}\r\nX: y` : `${kind}:${values[i]}`,
            placeholder: placeholders[i]!,
            hosts: kind === 'wrongHost' ? ['elsewhere.example.org'] : ['api.example.com'],
            locations: kind === 'wrongLocation' ? ['body'] : ['header', 'url'],
          }),
        );
        const mounted = secrets.filter((_, i) => kinds[i] !== 'unmounted');
        const compiled = compileSecrets(mounted);
        const piece = (part: string | number) => (typeof part === 'number' ? placeholders[part]! : part);
        const rawHeaders = headers.flatMap(([name, parts]) => [name, parts.map(piece).join('')]);
        const target = '/' + targetParts.map(piece).join('');
        const result = rewriteRequestHead({ compiled, host: 'api.example.com', target, rawHeaders, allowUnrestricted: false });

        const everything = result.rawHeaders.join('\n') + '\n' + result.target;
        const original = rawHeaders.join('\n') + '\n' + target;
        // header names untouched, count kept
        expect(result.rawHeaders.filter((_, i) => i % 2 === 0)).toEqual(rawHeaders.filter((_, i) => i % 2 === 0));
        for (const [i, kind] of kinds.entries()) {
          const s = secrets[i]!;
          const used = count(original, s.placeholder);
          if (kind === 'allowed') {
            expect(count(everything, s.placeholder)).toBe(0);
          } else {
            // left exactly as it was, and the value never appears
            expect(count(everything, s.placeholder)).toBe(used);
            expect(everything.includes(s.value)).toBe(false);
          }
          expect(result.substituted.includes(s)).toBe(kind === 'allowed' && used > 0);
          const inHeaders = rawHeaders.some((v, j) => j % 2 === 1 && v.includes(s.placeholder));
          const inTarget = target.includes(s.placeholder);
          const expectedWhere = [...(inHeaders ? ['header'] : []), ...(inTarget ? ['url'] : [])];
          const disallowed = result.disallowed.filter((d) => d.name === s.name).map((d) => d.where);
          const unsafe = result.unsafe.filter((d) => d.name === s.name).map((d) => d.where);
          expect(disallowed.sort()).toEqual(kind === 'wrongHost' || kind === 'wrongLocation' ? expectedWhere : []);
          expect(unsafe.sort()).toEqual(kind === 'unsafe' ? expectedWhere : []);
        }
        // reference model for headers: split/join of the allowed placeholder
        const allowed = secrets[0]!;
        const expectedHeaders = rawHeaders.map((v, j) => (j % 2 === 1 ? v.split(allowed.placeholder).join(allowed.value) : v));
        expect(result.rawHeaders).toEqual(expectedHeaders);
      }),
      { numRuns: 300 },
    );
  });
});
