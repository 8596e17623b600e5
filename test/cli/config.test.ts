import { describe, expect, it } from 'vitest';
import { apiUrlSetting, loadConfig, parseListen, parseResolve, UsageError } from '../../src/config/index.js';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const ADMIN_KEY = 'admin-key-chosen-by-the-operator-0123456789';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({
      dataDir: './.veil',
      apiListen: { host: '127.0.0.1', port: 8080 },
      proxyListen: { host: '127.0.0.1', port: 3128 },
      proxyEnabled: true,
      ca: { dir: 'certs' },
      disallowed: 'pass',
      nonTlsConnect: 'tunnel',
      allowUnrestrictedSecrets: false,
      resolve: [],
      logLevel: 'info',
    });
    expect(config.masterKey).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
  });

  it('reads every env var', () => {
    const config = loadConfig(
      {},
      {
        VEIL_DATA_DIR: '/var/lib/veil',
        VEIL_API_LISTEN: '0.0.0.0:9000',
        VEIL_PROXY_LISTEN: '[::1]:0',
        VEIL_MASTER_KEY: MASTER_KEY,
        VEIL_ADMIN_API_KEY: ADMIN_KEY,
        VEIL_CA_DIR: '/etc/veil/ca',
        VEIL_CA_CERT_FILE: '/c.pem',
        VEIL_CA_KEY_FILE: '/k.pem',
        VEIL_UPSTREAM_CA_FILE: '/up.pem',
        VEIL_RESOLVE: 'api.example.com=127.0.0.1,Other.Test:443:[::1]',
        VEIL_DISALLOWED: 'block',
        VEIL_NON_TLS_CONNECT: 'deny',
        VEIL_PROXY_CACHE_TTL_MS: '2500',
        VEIL_PROXY_CACHE_STALE_MS: '30000',
        VEIL_PROXY_BODY_MEMORY_BYTES: '4MiB',
        VEIL_PROXY_BODY_MAX_BYTES: '1073741824',
        VEIL_PROXY_SPILL_DIR: '/var/tmp/veil',
        VEIL_PROXY_PUBLIC_URL: 'http://veil-proxy.internal:3128/',
        VEIL_ALLOW_UNRESTRICTED_SECRETS: '1',
        VEIL_SANDBOX_ID: 'sb-1',
        VEIL_DATABASE_URL: 'postgres://u:p@db:5432/veil',
        VEIL_LOG_LEVEL: 'debug',
      },
    );
    expect(config).toEqual({
      dataDir: '/var/lib/veil',
      apiListen: { host: '0.0.0.0', port: 9000 },
      proxyListen: { host: '::1', port: 0 },
      proxyEnabled: true,
      masterKey: MASTER_KEY,
      adminApiKey: ADMIN_KEY,
      ca: { dir: '/etc/veil/ca', certFile: '/c.pem', keyFile: '/k.pem' },
      upstreamCaFile: '/up.pem',
      resolve: [
        { host: 'api.example.com', address: '127.0.0.1' },
        { host: 'other.test', port: 443, address: '::1' },
      ],
      disallowed: 'block',
      nonTlsConnect: 'deny',
      proxyCache: { ttlMs: 2500, staleMs: 30000 },
      proxyBody: { memoryBytes: 4 * 1024 * 1024, maxBytes: 1024 ** 3, spillDir: '/var/tmp/veil' },
      proxyPublicUrl: 'http://veil-proxy.internal:3128',
      allowUnrestrictedSecrets: true,
      sandboxId: 'sb-1',
      databaseUrl: 'postgres://u:p@db:5432/veil',
      logLevel: 'debug',
    });
  });

  it('lets flags win over env', () => {
    const config = loadConfig(
      { 'data-dir': '/flag', 'api-listen': '127.0.0.1:0', 'proxy-listen': '127.0.0.1:1', disallowed: 'pass', sandbox: 'flag-sb', 'no-proxy': true },
      { VEIL_DATA_DIR: '/env', VEIL_API_LISTEN: 'x', VEIL_PROXY_LISTEN: 'y', VEIL_DISALLOWED: 'nonsense', VEIL_SANDBOX_ID: 'env-sb' },
    );
    expect(config.dataDir).toBe('/flag');
    expect(config.apiListen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.proxyListen).toEqual({ host: '127.0.0.1', port: 1 });
    expect(config.disallowed).toBe('pass');
    expect(config.sandboxId).toBe('flag-sb');
    expect(config.proxyEnabled).toBe(false);
  });

  it('treats empty env vars as unset', () => {
    expect(loadConfig({}, { VEIL_API_LISTEN: '', VEIL_DATA_DIR: '' })).toMatchObject({ apiListen: { port: 8080 }, dataDir: './.veil' });
  });

  it('leaves the client settings to the client commands (apiUrlSetting in mode.ts)', () => {
    // VEIL_API_URL and VEIL_API_KEY are often exported next to the server's settings: not its concern.
    const config = loadConfig({}, { VEIL_API_URL: 'not a url', VEIL_API_KEY: 'key' });
    expect(config).not.toHaveProperty('apiUrl');
    expect(config).not.toHaveProperty('apiKey');
  });

  it('--allow-unrestricted-secrets and its env var', () => {
    expect(loadConfig({ 'allow-unrestricted-secrets': true }, {}).allowUnrestrictedSecrets).toBe(true);
    expect(loadConfig({}, { VEIL_ALLOW_UNRESTRICTED_SECRETS: '0' }).allowUnrestrictedSecrets).toBe(false);
    expect(usageMessage(() => loadConfig({}, { VEIL_ALLOW_UNRESTRICTED_SECRETS: 'maybe' }))).toContain('VEIL_ALLOW_UNRESTRICTED_SECRETS');
  });

  it('--non-tls-connect and its env var', () => {
    expect(loadConfig({ 'non-tls-connect': 'deny' }, {}).nonTlsConnect).toBe('deny');
    expect(loadConfig({}, { VEIL_NON_TLS_CONNECT: 'deny' }).nonTlsConnect).toBe('deny');
    expect(loadConfig({ 'non-tls-connect': 'tunnel' }, { VEIL_NON_TLS_CONNECT: 'deny' }).nonTlsConnect).toBe('tunnel');
    expect(usageMessage(() => loadConfig({}, { VEIL_NON_TLS_CONNECT: 'maybe' }))).toContain('VEIL_NON_TLS_CONNECT: expected one of tunnel|deny');
  });

  it('proxy body sizes take bytes or binary units', () => {
    expect(loadConfig({}, { VEIL_PROXY_BODY_MAX_BYTES: '2G' }).proxyBody.maxBytes).toBe(2 * 1024 ** 3);
    expect(loadConfig({}, { VEIL_PROXY_BODY_MEMORY_BYTES: '512k' }).proxyBody.memoryBytes).toBe(512 * 1024);
    for (const bad of ['0', '-1', '8MB', 'lots']) {
      expect(usageMessage(() => loadConfig({}, { VEIL_PROXY_BODY_MAX_BYTES: bad }))).toContain('VEIL_PROXY_BODY_MAX_BYTES: expected a size in bytes');
    }
  });

  it('VEIL_PROXY_PUBLIC_URL is a plain http://host:port', () => {
    for (const bad of ['https://proxy:3128', 'http://u:p@proxy:3128', 'http://proxy:3128/path', 'proxy:3128']) {
      expect(usageMessage(() => loadConfig({}, { VEIL_PROXY_PUBLIC_URL: bad }))).toContain('VEIL_PROXY_PUBLIC_URL: expected http://host:port');
    }
  });

  it('proxy cache settings are whole milliseconds', () => {
    expect(loadConfig({}, {}).proxyCache).toEqual({ ttlMs: undefined, staleMs: undefined });
    expect(usageMessage(() => loadConfig({}, { VEIL_PROXY_CACHE_TTL_MS: '5s' }))).toContain('VEIL_PROXY_CACHE_TTL_MS: expected milliseconds');
  });

  it('names the flag or env var and the input in errors', () => {
    expect(usageMessage(() => loadConfig({ 'api-listen': 'x' }, {}))).toBe('--api-listen: expected host:port, got "x"');
    expect(usageMessage(() => loadConfig({}, { VEIL_API_LISTEN: 'x' }))).toBe('VEIL_API_LISTEN: expected host:port, got "x"');
    expect(usageMessage(() => loadConfig({ disallowed: 'drop' }, {}))).toContain('--disallowed: expected one of pass|block');
    expect(usageMessage(() => loadConfig({}, { VEIL_LOG_LEVEL: 'loud' }))).toContain('VEIL_LOG_LEVEL');
    expect(usageMessage(() => apiUrlSetting({}, { VEIL_API_URL: 'ftp://x' }))).toContain('VEIL_API_URL');
    expect(usageMessage(() => loadConfig({}, { VEIL_CA_CERT_FILE: '/c.pem' }))).toContain('set together');
  });

  it('validates VEIL_MASTER_KEY and VEIL_ADMIN_API_KEY without echoing them', () => {
    const shortKey = Buffer.alloc(16, 9).toString('base64');
    const message = usageMessage(() => loadConfig({}, { VEIL_MASTER_KEY: shortKey }));
    expect(message).toContain('VEIL_MASTER_KEY');
    expect(message).not.toContain(shortKey);
    expect(usageMessage(() => loadConfig({}, { VEIL_MASTER_KEY: 'not base64 at all!' }))).not.toContain('not base64');
    const adminMessage = usageMessage(() => loadConfig({}, { VEIL_ADMIN_API_KEY: 'short-admin-key' }));
    expect(adminMessage).toContain('VEIL_ADMIN_API_KEY');
    expect(adminMessage).not.toContain('short-admin-key');
  });

  it('never echoes a database URL (it may hold a password)', () => {
    const message = usageMessage(() => loadConfig({}, { VEIL_DATABASE_URL: 'mysql://user:hunter2secret@db/x' }));
    expect(message).toContain('VEIL_DATABASE_URL');
    expect(message).not.toContain('hunter2secret');
    expect(usageMessage(() => loadConfig({}, { VEIL_DATABASE_URL: 'not a url hunter2secret' }))).not.toContain('hunter2secret');
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::]:3128', { host: '::', port: 3128 }],
    ['0.0.0.0:65535', { host: '0.0.0.0', port: 65535 }],
  ])('accepts %s', (input, expected) => {
    expect(parseListen('--api-listen', input)).toEqual(expected);
  });

  it.each(['x', '8080', ':8080', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:80x', '::1:80', '[nothost]:80', 'a b:80'])(
    'rejects %s',
    (input) => {
      expect(usageMessage(() => parseListen('--api-listen', input))).toBe(`--api-listen: expected host:port, got ${JSON.stringify(input)}`);
    },
  );
});

describe('parseResolve', () => {
  it('parses both forms and skips empty entries', () => {
    expect(parseResolve('VEIL_RESOLVE', ' a.test=10.0.0.1 ,, b.test:8443:10.0.0.2,c.test.=[2001:db8::1]')).toEqual([
      { host: 'a.test', address: '10.0.0.1' },
      { host: 'b.test', port: 8443, address: '10.0.0.2' },
      { host: 'c.test', address: '2001:db8::1' },
    ]);
  });

  it.each(['a.test', 'a.test=notanip', '=10.0.0.1', 'a.test:99999:10.0.0.1', 'a.test:0:10.0.0.1', 'a.test:x:10.0.0.1'])('rejects %s', (input) => {
    expect(usageMessage(() => parseResolve('VEIL_RESOLVE', input))).toContain('VEIL_RESOLVE');
  });
});
