import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSecrets } from '../../src/substitution/compile.js';
import { rewriteRequestHead } from '../../src/substitution/head.js';
import { count, placeholderArb, randomPlaceholder, secret } from './helpers.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');

function auth(compiled: ReturnType<typeof compileSecrets>, value: string, host = 'api.example.com', name = 'Authorization') {
  return rewriteRequestHead({ compiled, host, target: '/', rawHeaders: [name, value], allowUnrestricted: false });
}

describe('Basic authorization', () => {
  const token = secret({ name: 'GIT_TOKEN', value: 'ghp_abc123' });
  const user = secret({ name: 'GIT_USER', value: 'alice' });
  const compiled = compileSecrets([token, user]);

  it('substitutes the password', () => {
    const result = auth(compiled, `Basic ${b64(`x-access-token:${token.placeholder}`)}`);
    expect(result.rawHeaders).toEqual(['Authorization', `Basic ${b64('x-access-token:ghp_abc123')}`]);
    expect(result.substituted).toEqual([token]);
  });

  it('substitutes user and password, keeps scheme spelling and whitespace, any header-name casing', () => {
    const result = auth(compiled, `basic  ${b64(`${user.placeholder}:${token.placeholder}`)}`, 'api.example.com', 'AUTHORIZATION');
    expect(result.rawHeaders).toEqual(['AUTHORIZATION', `basic  ${b64('alice:ghp_abc123')}`]);
    expect(result.substituted).toEqual([user, token]);
  });

  it('substitutes inside a password with more text and colons around it', () => {
    const result = auth(compiled, `Basic ${b64(`me:pre-${token.placeholder}:post`)}`);
    expect(unb64(result.rawHeaders[1]!.slice(6))).toBe('me:pre-ghp_abc123:post');
  });

  it('leaves the header byte-identical when nothing is substituted (unmounted, disallowed, no placeholder, not base64)', () => {
    for (const value of [
      `Basic ${b64(`me:${randomPlaceholder()}`)}`,
      `Basic ${b64('me:plain')}`,
      `Basic ${b64(`me:${token.placeholder}`).replace(/=+$/, '')}`.replace('Basic', 'Bearer'),
      'Basic !!!notbase64',
      'Basic',
    ]) {
      expect(auth(compiled, value).rawHeaders).toEqual(['Authorization', value]);
    }
    const disallowed = auth(compiled, `Basic ${b64(`me:${token.placeholder}`)}`, 'evil.example.net');
    expect(disallowed.rawHeaders).toEqual(['Authorization', `Basic ${b64(`me:${token.placeholder}`)}`]);
    expect(disallowed.disallowed).toEqual([{ name: 'GIT_TOKEN', where: 'header' }]);
  });

  it("follows the 'header' location", () => {
    const urlOnly = secret({ name: 'URLONLY', value: 'v', locations: ['url'] });
    const value = `Basic ${b64(`u:${urlOnly.placeholder}`)}`;
    const result = auth(compileSecrets([urlOnly]), value);
    expect(result.rawHeaders[1]).toBe(value);
    expect(result.disallowed).toEqual([{ name: 'URLONLY', where: 'header' }]);
  });

  it('refuses a value with ":" in the user part or a control char anywhere, naming the secret', () => {
    const colon = secret({ name: 'COLON', value: 'a:b' });
    const c = compileSecrets([colon]);
    const asUser = `Basic ${b64(`${colon.placeholder}:pw`)}`;
    const r1 = auth(c, asUser);
    expect(r1.rawHeaders[1]).toBe(asUser);
    expect(r1.unsafe).toEqual([{ name: 'COLON', where: 'header' }]);
    expect(unb64(auth(c, `Basic ${b64(`user:${colon.placeholder}`)}`).rawHeaders[1]!.slice(6))).toBe('user:a:b');

    const crlf = secret({ name: 'CRLF', value: 'a\r\nb' });
    const r2 = auth(compileSecrets([crlf]), `Basic ${b64(`u:${crlf.placeholder}`)}`);
    expect(r2.unsafe).toEqual([{ name: 'CRLF', where: 'header' }]);
    expect(unb64(r2.rawHeaders[1]!.slice(6))).toBe(`u:${crlf.placeholder}`);
  });

  it('keeps non-placeholder bytes exactly and writes values as UTF-8', () => {
    const s = secret({ value: 'pässwörd' });
    const raw = Buffer.concat([Buffer.from([0xe9, 0x3a]), Buffer.from(s.placeholder)]); // latin1 "é:" user
    const result = auth(compileSecrets([s]), `Basic ${raw.toString('base64')}`);
    const out = Buffer.from(result.rawHeaders[1]!.slice(6), 'base64');
    expect(out).toEqual(Buffer.concat([Buffer.from([0xe9, 0x3a]), Buffer.from('pässwörd', 'utf8')]));
  });

  it('property: decoded credentials equal a split/join reference, the disallowed value never appears', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(placeholderArb, { minLength: 3, maxLength: 3 }),
        fc.array(fc.oneof(fc.string({ unit: fc.constantFrom(...'ab:veil_é'), maxLength: 6 }), fc.integer({ min: 0, max: 2 })), { maxLength: 8 }),
        (placeholders, parts) => {
          const allowed = secret({ name: 'OK', value: 'ok-value', placeholder: placeholders[0]! });
          const denied = secret({ name: 'NO', value: 'no-value', placeholder: placeholders[1]!, hosts: ['other.example.com'] });
          const text = parts.map((p) => (typeof p === 'number' ? placeholders[p]! : p)).join('');
          const header = `Basic ${b64(text)}`;
          const result = auth(compileSecrets([allowed, denied]), header);
          const decoded = unb64(result.rawHeaders[1]!.slice(6));
          expect(decoded).toBe(text.split(allowed.placeholder).join(allowed.value));
          expect(decoded.includes(denied.value)).toBe(false);
          expect(count(decoded, denied.placeholder)).toBe(count(text, denied.placeholder));
          if (!text.includes(allowed.placeholder)) expect(result.rawHeaders[1]).toBe(header);
        },
      ),
      { numRuns: 300 },
    );
  });
});
