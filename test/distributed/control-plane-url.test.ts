/** The transport rule of `veil proxy`: https to anywhere, plain http only to loopback; and `?schema=` of VEIL_DATABASE_URL. */
import { describe, expect, it } from 'vitest';
import { postgresTarget } from '../../src/app/repository.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { UsageError } from '../../src/config/index.js';
import { checkControlPlaneUrl, isLoopbackHost } from '../../src/resolver/remote.js';

describe('control-plane URL', () => {
  it('accepts https anywhere and http to loopback only', () => {
    expect(checkControlPlaneUrl('x', 'https://veil.example.com/')).toBe('https://veil.example.com');
    expect(checkControlPlaneUrl('x', 'https://veil.example.com/api/')).toBe('https://veil.example.com/api');
    for (const url of ['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://[::1]:8080', 'http://localhost:8080']) {
      expect(() => checkControlPlaneUrl('x', url)).not.toThrow();
    }
    for (const url of ['http://10.0.0.1:8080', 'http://veil.example.com', 'http://127.0.0.1.nip.io', 'http://[::2]:80', 'http://0.0.0.0:8080']) {
      expect(() => checkControlPlaneUrl('x', url)).toThrow(/only to a loopback address/);
    }
    expect(() => checkControlPlaneUrl('x', 'ftp://veil.example.com')).toThrow(/https:\/\//);
    expect(() => checkControlPlaneUrl('x', 'https://user:pw@veil.example.com')).toThrow(/credentials/);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('veil proxy settings: flags win, env fallbacks, usage errors that never echo the key', () => {
    const key = 'veil_key_0123456789abcdef0123456789abcdef_secretpartsecretpartsecretpart12';
    const config = loadProxyConfig(
      { 'control-plane': 'https://cp.example', 'proxy-listen': '127.0.0.1:0', 'non-tls-connect': 'deny' },
      {
        VEIL_API_URL: 'https://ignored.example',
        VEIL_API_KEY: key,
        VEIL_SANDBOX_ID: '6A1B5C1E-0D7C-4B8E-9E0A-0123456789AB',
        VEIL_CONTROL_PLANE_CA_FILE: '/etc/veil/cp-ca.pem',
        VEIL_PROXY_CACHE_TTL_MS: '2500',
        VEIL_DISALLOWED: 'block',
      },
    );
    expect(config).toMatchObject({ controlPlaneUrl: 'https://cp.example', apiKey: key, controlPlaneCaFile: '/etc/veil/cp-ca.pem' });
    expect(config.shared.proxyCache.ttlMs).toBe(2500);
    expect(config.shared).toMatchObject({ sandboxId: '6a1b5c1e-0d7c-4b8e-9e0a-0123456789ab', disallowed: 'block', nonTlsConnect: 'deny', proxyListen: { host: '127.0.0.1', port: 0 } });
    const failure = (flags: object, env: Record<string, string>) => {
      try {
        loadProxyConfig(flags, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error('expected a usage error');
    };
    expect(failure({}, { VEIL_API_KEY: key })).toMatch(/--control-plane/);
    expect(failure({ 'control-plane': 'http://192.168.1.5:8080' }, { VEIL_API_KEY: key })).toMatch(/loopback/);
    expect(failure({ 'control-plane': 'https://cp.example', sandbox: 'not-a-uuid' }, { VEIL_API_KEY: key })).toMatch(/--sandbox/);
    const ttl = failure({ 'control-plane': 'https://cp.example' }, { VEIL_API_KEY: key, VEIL_PROXY_CACHE_TTL_MS: 'soon' });
    expect(ttl).toMatch(/VEIL_PROXY_CACHE_TTL_MS/);
    expect(ttl).not.toContain(key);
  });

  it('VEIL_DATABASE_URL ?schema= selects the schema and a per-schema NOTIFY channel', () => {
    const plain = postgresTarget('postgres://veil:pw@db:5432/veil');
    expect(plain).toEqual({ url: 'postgres://veil:pw@db:5432/veil', schema: undefined, channel: 'veil_changes' });
    const scoped = postgresTarget('postgres://veil:pw@db:5432/veil?schema=tenant_a&sslmode=require');
    expect(scoped.schema).toBe('tenant_a');
    expect(scoped.url).toBe('postgres://veil:pw@db:5432/veil?sslmode=require');
    expect(scoped.channel).toMatch(/^veil_changes_[0-9a-f]{16}$/);
    expect(postgresTarget('postgres://db/veil?schema=tenant_b').channel).not.toBe(scoped.channel);
  });
});
