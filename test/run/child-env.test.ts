import { describe, expect, it } from 'vitest';
import { buildChildEnv, invalidMountEnvName, nodeImportOption, veilEnv, type VeilEnvInput } from '../../src/runtime/child-env.js';
import { parseProxyUrl, proxyUrlFor } from '../../src/sandbox-env/proxy-endpoint.js';
import { dotenvQuote, formatEnv, shellQuote } from '../../src/runtime/env-format.js';
import { spawnSync } from 'node:child_process';

const PLACEHOLDER = 'veil_abcdefghijklmnopqrstuvwxyzABCDEF';
const TRUST = {
  SSL_CERT_FILE: '/t/bundle.pem',
  REQUESTS_CA_BUNDLE: '/t/bundle.pem',
  NODE_EXTRA_CA_CERTS: '/t/veil-ca.pem',
  JAVA_TOOL_OPTIONS: '-Djavax.net.ssl.trustStore=/t/truststore.p12 -Djavax.net.ssl.trustStorePassword=changeit',
};

function input(overrides: Partial<VeilEnvInput> = {}): VeilEnvInput {
  return {
    placeholders: { OPENAI_API_KEY: PLACEHOLDER },
    proxy: { host: '127.0.0.1', port: 3128 },
    trust: TRUST,
    nodePreload: '/opt/veil/dist/runtime/node-proxy-preload.js',
    ...overrides,
  };
}

describe('veilEnv', () => {
  it('sets proxy variables (both cases), loopback NO_PROXY, trust variables and the placeholder', () => {
    const env = veilEnv(input());
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) expect(env[name]).toBe('http://127.0.0.1:3128');
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1');
    expect(env.no_proxy).toBe(env.NO_PROXY);
    expect(env.SSL_CERT_FILE).toBe('/t/bundle.pem');
    expect(env.REQUESTS_CA_BUNDLE).toBe('/t/bundle.pem');
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/t/veil-ca.pem');
    expect(env.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(env.NODE_OPTIONS).toBe('--import=file:///opt/veil/dist/runtime/node-proxy-preload.js');
    expect(env.NODE_USE_ENV_PROXY).toBe('1');
  });

  it('puts credentials into the proxy URL for a shared proxy, percent-encoded', () => {
    const env = veilEnv(input({ proxy: { host: 'proxy.internal', port: 8443, credentials: { username: 'sb-1', password: 'a/b+c=' } } }));
    expect(env.HTTPS_PROXY).toBe('http://sb-1:a%2Fb%2Bc%3D@proxy.internal:8443');
    expect(parseProxyUrl(env.HTTPS_PROXY!)).toEqual({ host: 'proxy.internal', port: 8443, credentials: { username: 'sb-1', password: 'a/b+c=' } });
  });

  it('appends Java proxy options after the truststore options, without credentials', () => {
    const env = veilEnv(input({ proxy: { host: '127.0.0.1', port: 4000, credentials: { username: 'u', password: 'secret-token' } } }));
    const java = env.JAVA_TOOL_OPTIONS!;
    expect(java.startsWith(TRUST.JAVA_TOOL_OPTIONS)).toBe(true);
    expect(java).toContain('-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=4000');
    expect(java).toContain('-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=4000');
    expect(java).toContain('-Dhttp.nonProxyHosts=localhost|127.*|[::1]');
    expect(java).not.toContain('secret-token');
  });

  it('brackets IPv6 proxy hosts', () => {
    const env = veilEnv(input({ proxy: { host: '::1', port: 3128 } }));
    expect(env.HTTP_PROXY).toBe('http://[::1]:3128');
    expect(env.JAVA_TOOL_OPTIONS).toContain('-Dhttps.proxyHost=[::1]');
  });

  it('refuses to mount a secret over a variable Veil sets, or under a bad name', () => {
    expect(() => veilEnv(input({ placeholders: { HTTPS_PROXY: PLACEHOLDER } }))).toThrow(/set by Veil/);
    expect(() => veilEnv(input({ placeholders: { SSL_CERT_FILE: PLACEHOLDER } }))).toThrow(/set by Veil/);
    expect(() => veilEnv(input({ placeholders: { 'A-B': PLACEHOLDER } }))).toThrow(/not a valid/);
    expect(invalidMountEnvName('VEIL_API_KEY')).toMatch(/reserved/);
    expect(invalidMountEnvName('GITHUB_TOKEN')).toBeNull();
  });

  it('sets WGETRC only when given a wgetrc', () => {
    expect(veilEnv(input()).WGETRC).toBeUndefined();
    expect(veilEnv(input({ wgetrc: '/t/veil-wgetrc-1' })).WGETRC).toBe('/t/veil-wgetrc-1');
  });

  it('omits NODE_OPTIONS when there is no preload', () => {
    expect(veilEnv(input({ nodePreload: undefined })).NODE_OPTIONS).toBeUndefined();
  });

  it('encodes preload paths with spaces as a file URL', () => {
    expect(nodeImportOption('/a b/p.js')).toBe('--import=file:///a%20b/p.js');
    expect(() => nodeImportOption('relative/p.js')).toThrow();
  });
});

describe('buildChildEnv', () => {
  it('drops every VEIL_* variable of the parent and replaces a real value of a mounted name', () => {
    const env = buildChildEnv(
      { PATH: '/bin', VEIL_API_KEY: 'veil_key_x_y', VEIL_MASTER_KEY: 'mk', VEIL_PROXY_TOKEN: 'tok', OPENAI_API_KEY: 'sk-real', HOME: '/h' },
      input(),
    );
    expect(Object.keys(env).filter((name) => name.startsWith('VEIL_'))).toEqual([]);
    expect(env.OPENAI_API_KEY).toBe(PLACEHOLDER);
    expect(env.PATH).toBe('/bin');
    expect(env.HOME).toBe('/h');
    expect(JSON.stringify(env)).not.toContain('sk-real');
  });

  it('keeps the parent NODE_OPTIONS and JAVA_TOOL_OPTIONS first, and does not add the preload twice', () => {
    const once = buildChildEnv({ NODE_OPTIONS: '--max-old-space-size=512', JAVA_TOOL_OPTIONS: '-Xmx1g' }, input());
    expect(once.NODE_OPTIONS).toBe('--max-old-space-size=512 --import=file:///opt/veil/dist/runtime/node-proxy-preload.js');
    expect(once.JAVA_TOOL_OPTIONS!.startsWith('-Xmx1g -Djavax.net.ssl.trustStore=')).toBe(true);
    const twice = buildChildEnv(once, input());
    expect(twice.NODE_OPTIONS).toBe(once.NODE_OPTIONS);
  });

  it('points inherited root-replacing bundle variables at the merged bundle, without adding absent ones', () => {
    const env = buildChildEnv({ NIX_SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt', SSL_CERT_DIR: '/etc/ssl/certs' }, input());
    expect(env.NIX_SSL_CERT_FILE).toBe('/t/bundle.pem');
    expect(env.SSL_CERT_DIR).toBe('/etc/ssl/certs');
    expect(env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).toBeUndefined();
  });

  it('overrides proxy settings inherited from the parent', () => {
    const env = buildChildEnv({ HTTPS_PROXY: 'http://elsewhere:1', no_proxy: '*' }, input());
    expect(env.HTTPS_PROXY).toBe('http://127.0.0.1:3128');
    expect(env.no_proxy).toBe('localhost,127.0.0.1,::1');
  });
});

describe('formatEnv', () => {
  const awkward = `it's a "test" $HOME \`x\` \\ end`;

  it('shell output round-trips through sh, whatever the value holds', () => {
    const text = formatEnv({ A: awkward, B: 'plain', C: '' }, 'shell');
    const result = spawnSync('sh', ['-c', `${text}printf '%s|%s|%s' "$A" "$B" "$C"`], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(result.stdout).toBe(`${awkward}|plain|`);
  });

  it('quotes for shell and dotenv', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(dotenvQuote('plain $x')).toBe(`'plain $x'`);
    expect(dotenvQuote(`it's`)).toBe(`"it's"`);
    expect(formatEnv({ B: '2', A: '1' }, 'dotenv')).toBe(`A='1'\nB='2'\n`);
    expect(JSON.parse(formatEnv({ A: awkward }, 'json'))).toEqual({ A: awkward });
  });

  it('rejects names that are not env var names', () => {
    expect(() => formatEnv({ 'A B': 'x' }, 'shell')).toThrow();
  });
});

describe('proxyUrlFor / parseProxyUrl', () => {
  it('round-trips and rejects non-http or path-bearing URLs', () => {
    expect(proxyUrlFor({ host: 'h', port: 1 })).toBe('http://h:1');
    expect(parseProxyUrl('http://h:1/')).toEqual({ host: 'h', port: 1 });
    expect(() => parseProxyUrl('https://h:1')).toThrow('proxy URL must start with http://');
    expect(() => parseProxyUrl('http://h:1/x')).toThrow('proxy URL must not have a path');
    expect(() => parseProxyUrl('nope')).toThrow('proxy URL is not a valid URL');
    expect(parseProxyUrl('http://[::1]')).toEqual({ host: '::1', port: 80 });
  });
});

describe('bypassesProxy (NO_PROXY of the node:https preload)', () => {
  it('matches loopback, suffixes, wildcards and ports like curl', async () => {
    const { bypassesProxy } = await import('../../src/runtime/node-proxy-preload.js');
    const loopback = 'localhost,127.0.0.1,::1';
    expect(bypassesProxy(loopback, '127.0.0.1', 443)).toBe(true);
    expect(bypassesProxy(loopback, '::1', 443)).toBe(true);
    expect(bypassesProxy(loopback, '[::1]', 443)).toBe(true);
    expect(bypassesProxy(loopback, 'localhost', 8443)).toBe(true);
    expect(bypassesProxy(loopback, 'api.openai.com', 443)).toBe(false);
    expect(bypassesProxy(loopback, 'notlocalhost', 443)).toBe(false);
    expect(bypassesProxy('.example.com', 'a.b.example.com', 443)).toBe(true);
    expect(bypassesProxy('example.com', 'example.com', 443)).toBe(true);
    expect(bypassesProxy('example.com', 'badexample.com', 443)).toBe(false);
    expect(bypassesProxy('*.example.com', 'x.example.com', 443)).toBe(true);
    expect(bypassesProxy('example.com:8443', 'example.com', 443)).toBe(false);
    expect(bypassesProxy('example.com:8443', 'example.com', 8443)).toBe(true);
    expect(bypassesProxy('[::1]:443', '::1', 443)).toBe(true);
    expect(bypassesProxy('*', 'anything', 1)).toBe(true);
    expect(bypassesProxy(undefined, 'anything', 1)).toBe(false);
  });
});

describe('tunnelledDestination (which tls.connect calls the preload sends through the proxy)', () => {
  it('tunnels host:port connections; leaves alone an existing socket, a path, NO_PROXY and non-HTTP TLS ports', async () => {
    const { Socket } = await import('node:net');
    const { tunnelledDestination } = await import('../../src/runtime/node-proxy-preload.js');
    const noProxy = 'localhost,127.0.0.1,::1';
    expect(tunnelledDestination({ host: 'api.openai.com', port: 443 }, noProxy)).toEqual({ host: 'api.openai.com', port: 443 });
    expect(tunnelledDestination({ host: 'api.openai.com' }, noProxy)).toEqual({ host: 'api.openai.com', port: 443 });
    expect(tunnelledDestination({ host: 'api.example.test', port: 8443 }, noProxy)).toEqual({ host: 'api.example.test', port: 8443 });
    expect(tunnelledDestination({ host: 'api.openai.com', port: 443, socket: new Socket() }, noProxy)).toBeNull();
    expect(tunnelledDestination({ path: '/run/x.sock' }, noProxy)).toBeNull();
    expect(tunnelledDestination({ host: '127.0.0.1', port: 443 }, noProxy)).toBeNull();
    for (const port of [6379, 6380, 3306, 27017, 5671, 8883, 993]) expect(tunnelledDestination({ host: 'db.example.com', port }, noProxy)).toBeNull();
  });
});
