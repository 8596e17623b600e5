import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostHeaderHost, parseAbsoluteTarget, parseConnectTarget, routedAuthority } from '../../src/proxy/destination.js';
import { countHeader, stripHopByHop } from '../../src/proxy/hop-by-hop.js';
import { parseProxyAuthorization, tokenMatchesHash } from '../../src/proxy/proxy-auth.js';
import { parseResolve } from '../../src/config/parse.js';
import { pinsFromEntries } from '../../src/proxy/resolve-spec.js';
import { classifyUpstreamError } from '../../src/proxy/upstream-errors.js';
import { sha256Hex } from '../helpers/proxy-fixture.js';

describe('stripHopByHop', () => {
  it('drops connection-scoped and Proxy-* headers, and whatever Connection lists', () => {
    const kept = stripHopByHop([
      'Host', 'a', 'Connection', 'close, X-Drop', 'X-Drop', '1', 'Keep-Alive', 'x', 'TE', 'trailers', 'Trailer', 'X',
      'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Proxy-Connection', 'k', 'Proxy-Authorization', 'Basic x',
      'proxy-whatever', 'y', 'X-Keep', 'z', 'Expect', '100-continue',
    ]);
    expect(kept).toEqual(['Host', 'a', 'X-Keep', 'z']);
  });

  it('keeps every other header, in order, with its casing (property)', () => {
    const name = fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 20 })), { maxLength: 20 }), (pairs) => {
        const flat = pairs.flat();
        expect(stripHopByHop(flat)).toEqual(flat);
      }),
    );
  });

  it('counts headers case-insensitively', () => {
    expect(countHeader(['Host', 'a', 'host', 'b', 'X', 'c'], 'HOST')).toBe(2);
  });
});

describe('destination parsing', () => {
  it('CONNECT targets', () => {
    expect(parseConnectTarget('API.Example.com.:443')).toEqual({ host: 'api.example.com', port: 443 });
    expect(parseConnectTarget('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(parseConnectTarget('bücher.example:443')).toEqual({ host: 'xn--bcher-kva.example', port: 443 });
    for (const bad of ['api.example.com', 'api.example.com:0', 'api.example.com:70000', 'user@host:443', ':443', 'a b:1']) {
      expect(parseConnectTarget(bad)).toBeNull();
    }
  });

  it('absolute-form targets keep the path byte for byte', () => {
    expect(parseAbsoluteTarget('http://API.example.com:8080/a%2Fb/../c?x=<y>&z', 'http')).toEqual({
      host: 'api.example.com',
      port: 8080,
      path: '/a%2Fb/../c?x=<y>&z',
    });
    expect(parseAbsoluteTarget('http://example.org', 'http')).toEqual({ host: 'example.org', port: 80, path: '/' });
    expect(parseAbsoluteTarget('http://example.org?q', 'http')).toEqual({ host: 'example.org', port: 80, path: '/?q' });
    expect(parseAbsoluteTarget('https://example.org/', 'http')).toBeNull();
    expect(parseAbsoluteTarget('http://user:pw@example.org/', 'http')).toBeNull();
  });

  it('Host header without port, normalized', () => {
    expect(hostHeaderHost('API.Example.COM.:1234')).toBe('api.example.com');
    expect(hostHeaderHost('[::1]:80')).toBe('::1');
    expect(hostHeaderHost('bad host')).toBeNull();
  });

  it('Host header that is not a plain host[:port]: null (the proxy answers 400)', () => {
    for (const forged of ['evil.test@api.example.com', 'api.example.com:80/evil.test', 'api.example.com#evil', 'api.example.com\\evil', 'api.example.com?x', '', ':80', 'api.example.com:99999']) {
      expect(hostHeaderHost(forged)).toBeNull();
    }
    expect(hostHeaderHost('api.example.com:')).toBeNull();
    expect(hostHeaderHost('127.0.0.1:8080')).toBe('127.0.0.1');
  });

  it('routed authority: the port only when it is not the scheme default, IPv6 bracketed', () => {
    expect(routedAuthority('http', 'api.example.com', 80)).toBe('api.example.com');
    expect(routedAuthority('https', 'api.example.com', 443)).toBe('api.example.com');
    expect(routedAuthority('https', 'api.example.com', 80)).toBe('api.example.com:80');
    expect(routedAuthority('http', '::1', 8080)).toBe('[::1]:8080');
  });
});

describe('proxy credentials', () => {
  it('parses Basic sandboxId:token (token may contain colons)', () => {
    const header = `Basic ${Buffer.from('sbx-1:to:ken').toString('base64')}`;
    expect(parseProxyAuthorization(header)).toEqual({ sandboxId: 'sbx-1', token: 'to:ken' });
    expect(parseProxyAuthorization('Bearer x')).toBeNull();
    expect(parseProxyAuthorization(undefined)).toBeNull();
    expect(parseProxyAuthorization(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeNull();
  });

  it('compares the token hash', () => {
    expect(tokenMatchesHash('tok', sha256Hex('tok'))).toBe(true);
    expect(tokenMatchesHash('tok2', sha256Hex('tok'))).toBe(false);
    expect(tokenMatchesHash('tok', 'not-hex')).toBe(false);
  });
});

describe('VEIL_RESOLVE to pins', () => {
  it('parses host=ip pins as the config reads them, normalizing hosts', () => {
    const pins = pinsFromEntries(parseResolve('VEIL_RESOLVE', 'API.example.com=127.0.0.1, bücher.example=::1,v6.test=[::2]'));
    expect([...pins]).toEqual([
      ['api.example.com', '127.0.0.1'],
      ['xn--bcher-kva.example', '::1'],
      ['v6.test', '::2'],
    ]);
  });

  it('builds pins from parsed config entries', () => {
    expect([...pinsFromEntries([{ host: 'API.Example.com.', address: '10.0.0.1' }, { host: 'v6.test', address: '[::1]' }])]).toEqual([
      ['api.example.com', '10.0.0.1'],
      ['v6.test', '::1'],
    ]);
  });
});

describe('classifyUpstreamError', () => {
  it('maps errors to short reasons', () => {
    const wrapped = (code: string) => Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('x'), { code }) });
    expect(classifyUpstreamError(wrapped('ECONNREFUSED'))).toEqual({ status: 502, reason: 'upstream connection refused' });
    expect(classifyUpstreamError(wrapped('SELF_SIGNED_CERT_IN_CHAIN')).reason).toMatch(/verification failed/);
    expect(classifyUpstreamError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).status).toBe(504);
    expect(classifyUpstreamError(new Error('plain'))).toEqual({ status: 502, reason: 'upstream request failed' });
  });
});
