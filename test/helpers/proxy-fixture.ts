/**
 * A running proxy wired to real upstreams for the proxy tests: secrets and sandboxes in a
 * MemoryResolver, Veil's real CA (src/ca) for interception, pinned hostnames -> 127.0.0.1, log lines
 * captured so tests can check no value was ever logged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadOrCreateCertificateAuthority } from '../../src/ca/authority.js';
import type { CertificateAuthority } from '../../src/ca/types.js';
import { LocalChangeFeed } from '../../src/events/local-feed.js';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.js';
import type { ProxyOptions } from '../../src/proxy/options.js';
import { MemoryResolver } from '../../src/resolver/memory.js';
import type { ResolvedSecret, SandboxSecrets } from '../../src/resolver/types.js';
import { createTestCa, startUpstream, type KeyAndCert, type ReceivedRequest, type TestCa, type TestUpstream } from './upstream.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function makePlaceholder(): string {
  const bytes = randomBytes(32);
  let body = '';
  for (const byte of bytes) body += ALNUM[byte % ALNUM.length];
  return `veil_${body}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Every name the tests reach, pinned to 127.0.0.1 and on the upstream certificate. */
export const TEST_HOSTNAMES = [
  'api.example.com',
  'other.example.com',
  'deep.sub.example.org',
  'example.org',
  'xn--bcher-kva.example',
  'elsewhere.test',
];

export function secret(name: string, value: string, hosts: string[], extra: Partial<ResolvedSecret> = {}): ResolvedSecret {
  return {
    secretId: `id-${name}`,
    name,
    env: name,
    placeholder: makePlaceholder(),
    value,
    hosts,
    locations: ['header', 'url'],
    ...extra,
  };
}

export interface Fixture {
  proxyUrl: string;
  proxyPort: number;
  proxy: ProxyServer;
  resolver: MemoryResolver;
  feed: LocalChangeFeed;
  /** Veil's CA (the real one from src/ca) as clients trust it. */
  veilCa: { certPem: string; certFile: string };
  upstreamCa: TestCa;
  http: TestUpstream;
  https: TestUpstream;
  /** HTTPS upstream whose certificate comes from a CA the proxy does not trust. */
  untrusted: TestUpstream;
  sandbox: SandboxSecrets;
  token: string;
  other: SandboxSecrets;
  otherToken: string;
  secrets: Record<'exact' | 'wild' | 'idn' | 'unsafe' | 'everywhere' | 'othersOnly', ResolvedSecret>;
  logs: string[];
  /** Basic credentials for curl -x / Proxy-Authorization. */
  userinfo: string;
  close(): Promise<void>;
}

export const VALUES = {
  exact: 'exact-VALUE-7d3f1',
  wild: 'wild-VALUE-92ab4',
  idn: 'idn-VALUE-55c0e',
  unsafe: 'bad\r\nInjected: yes',
  everywhere: 'everywhere-VALUE-0a9b',
  othersOnly: 'others-VALUE-13ee7',
};

/** Key generation is the slow part: one set of CAs and upstream leaves per test process. */
let cas: Promise<{ veilCa: CertificateAuthority; upstreamCa: TestCa; upstreamLeaf: KeyAndCert; strangerLeaf: KeyAndCert }> | undefined;
function testCas() {
  if (!cas) {
    const upstreamCa = createTestCa('Upstream test CA');
    const strangerCa = createTestCa('Unknown CA');
    cas = loadOrCreateCertificateAuthority({ dir: mkdtempSync(join(tmpdir(), 'veil-proxy-ca-')) }).then((veilCa) => ({
      veilCa,
      upstreamCa,
      upstreamLeaf: upstreamCa.issue([...TEST_HOSTNAMES, '127.0.0.1']),
      strangerLeaf: strangerCa.issue([...TEST_HOSTNAMES]),
    }));
  }
  return cas;
}

export async function startFixture(overrides: Partial<ProxyOptions> = {}): Promise<Fixture> {
  const { veilCa, upstreamCa, upstreamLeaf, strangerLeaf } = await testCas();
  const http = await startUpstream();
  const https = await startUpstream(upstreamLeaf);
  const untrusted = await startUpstream(strangerLeaf);

  const secrets = {
    exact: secret('EXACT_KEY', VALUES.exact, ['api.example.com']),
    wild: secret('WILD_KEY', VALUES.wild, ['*.example.org']),
    idn: secret('IDN_KEY', VALUES.idn, ['xn--bcher-kva.example']),
    unsafe: secret('UNSAFE_KEY', VALUES.unsafe, ['api.example.com']),
    everywhere: secret('NO_HOSTS_KEY', VALUES.everywhere, []),
    othersOnly: secret('OTHERS_KEY', VALUES.othersOnly, ['api.example.com']),
  };
  const token = randomBytes(32).toString('base64url');
  const otherToken = randomBytes(32).toString('base64url');
  const sandbox: SandboxSecrets = {
    sandboxId: 'sbx-main',
    orgId: 'org-1',
    proxyTokenHash: sha256Hex(token),
    secrets: [secrets.exact, secrets.wild, secrets.idn, secrets.unsafe, secrets.everywhere],
  };
  const other: SandboxSecrets = {
    sandboxId: 'sbx-other',
    orgId: 'org-2',
    proxyTokenHash: sha256Hex(otherToken),
    secrets: [secrets.othersOnly],
  };
  const resolver = new MemoryResolver([sandbox, other]);
  const feed = new LocalChangeFeed();
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString());
        callback();
      },
    }),
  );
  const proxy = createProxyServer({
    resolver,
    feed,
    ca: veilCa,
    logger,
    disallowed: 'pass',
    allowUnrestrictedSecrets: false,
    upstreamCaFile: upstreamCa.certFile,
    resolve: new Map(TEST_HOSTNAMES.map((host) => [host, '127.0.0.1'])),
    ...overrides,
  });
  const proxyUrl = await proxy.listen('127.0.0.1', 0);
  return {
    proxyUrl,
    proxyPort: Number(new URL(proxyUrl).port),
    proxy,
    resolver,
    feed,
    veilCa,
    upstreamCa,
    http,
    https,
    untrusted,
    sandbox,
    token,
    other,
    otherToken,
    secrets,
    logs,
    userinfo: `${sandbox.sandboxId}:${token}`,
    async close() {
      await proxy.close();
      await Promise.all([http.close(), https.close(), untrusted.close()]);
    },
  };
}

/** No secret value in any log line. */
export function assertNoValueLogged(fixture: Fixture): void {
  for (const value of Object.values(VALUES)) {
    for (const line of fixture.logs) {
      if (line.includes(value) || line.includes(JSON.stringify(value).slice(1, -1))) {
        throw new Error(`a secret value appeared in a log line: ${line.slice(0, 200)}`);
      }
    }
  }
}

/** Mounts extra secrets on the fixture's main sandbox (and drops its cached mapping). */
export function mountExtraSecrets(fixture: Fixture, extra: ResolvedSecret[]): void {
  fixture.sandbox = { ...fixture.sandbox, secrets: [...fixture.sandbox.secrets, ...extra] };
  fixture.resolver.set(fixture.sandbox);
  fixture.proxy.cache.invalidate({ kind: 'sandbox', orgId: fixture.sandbox.orgId, sandboxId: fixture.sandbox.sandboxId });
}

/**
 * One fixture for a whole test file: started before the first test, and after the last one checked
 * for logged values and closed. `onReady` hands it to the file's tests.
 */
export function withFixture(onReady: (fixture: Fixture) => void, overrides: Partial<ProxyOptions> = {}): void {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startFixture(overrides);
    onReady(fixture);
  });
  afterAll(async () => {
    if (!fixture) return;
    assertNoValueLogged(fixture);
    await fixture.close();
  });
}

/** The last request an upstream received (what the proxy forwarded). */
export function lastReceived(upstream: TestUpstream): ReceivedRequest {
  const last = upstream.received.at(-1);
  if (!last) throw new Error('upstream saw nothing');
  return last;
}

/** One header as the upstream saw it (repeated headers joined). */
export function headerValue(seen: ReceivedRequest, name: string): string | undefined {
  const value = seen.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
