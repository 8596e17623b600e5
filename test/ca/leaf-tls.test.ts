/**
 * Leaves minted by Veil's CA, verified by real TLS clients (node:tls, curl, python3 ssl, openssl)
 * that trust only the CA certificate.
 */
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadOrCreateCertificateAuthority, type LocalCertificateAuthority } from '../../src/ca/authority.js';
import { CaError } from '../../src/ca/errors.js';
import { hasProgram, nodeHandshake, removeTempDirs, run, startTlsServer, tempDir, type TlsTestServer } from './support.js';

let ca: LocalCertificateAuthority;
let server: TlsTestServer;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  ca = await loadOrCreateCertificateAuthority({ dir: join(dir, 'certs') });
  server = await startTlsServer(ca);
});
afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

describe('node:tls client trusting only the Veil CA', () => {
  test.each([
    ['a DNS name', 'api.example.com'],
    ['a deep subdomain', 'a.b.c.d.deep.example.org'],
    ['a name with an underscore label', 'my_service.internal.example'],
  ])('verifies %s', async (_label, name) => {
    const result = await nodeHandshake(server.port, ca.certPem, { servername: name });
    expect(result.authorized).toBe(true);
    expect(result.peer.subject.CN).toBe(name);
    expect(result.peer.subjectaltname).toBe(`DNS:${name}`);
  });

  test('an IDN name gets a punycode SAN and verifies under its punycode SNI', async () => {
    const context = await ca.secureContextFor('BÜCHER.example.');
    expect(await ca.secureContextFor('xn--bcher-kva.example')).toBe(context);
    const result = await nodeHandshake(server.port, ca.certPem, { servername: 'xn--bcher-kva.example' });
    expect(result.authorized).toBe(true);
    expect(result.peer.subjectaltname).toBe('DNS:xn--bcher-kva.example');
  });

  test('the certificate for one name does not pass the identity check for another', async () => {
    const result = await nodeHandshake(server.port, ca.certPem, { servername: 'one.example.com', identity: 'other.example.com' }).catch((error: Error) => error);
    expect(result).toBeInstanceOf(Error);
    expect((result as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('a client trusting a different CA rejects the leaf', async () => {
    const other = await loadOrCreateCertificateAuthority({ dir: join(dir, 'other-ca') });
    const result = await nodeHandshake(server.port, other.certPem, { servername: 'api.example.com' }).catch((error: Error) => error);
    expect(result).toBeInstanceOf(Error);
    expect((result as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test.each([
    ['IPv4', '127.0.0.1', 'IP Address:127.0.0.1'],
    ['IPv6', '::1', 'IP Address:0:0:0:0:0:0:0:1'],
    ['bracketed IPv6', '[::1]', 'IP Address:0:0:0:0:0:0:0:1'],
  ])('verifies an %s literal through an iPAddress SAN (no SNI, host from CONNECT)', async (_label, host, san) => {
    const ipServer = await startTlsServer(ca, host);
    try {
      const identity = host.replace(/^\[|\]$/g, '');
      const result = await nodeHandshake(ipServer.port, ca.certPem, { identity });
      expect(result.authorized).toBe(true);
      expect(result.peer.subjectaltname).toBe(san);
      expect(result.peer.subjectaltname).not.toContain('DNS:');
    } finally {
      await ipServer.close();
    }
  });
});

describe('certificate fields (openssl)', () => {
  let leafFile: string;
  let leaf: X509Certificate;
  const before = Date.now();

  beforeAll(async () => {
    const result = await nodeHandshake(server.port, ca.certPem, { servername: 'fields.example.net' });
    leafFile = join(dir, 'leaf.pem');
    await writeFile(leafFile, result.leafPem);
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    leaf = new X509Certificate(result.leafPem);
  });

  test('openssl verifies the leaf against the CA for TLS server use', async () => {
    const result = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslserver', '-verify_hostname', 'fields.example.net', leafFile]);
    expect(result.stdout + result.stderr).toContain(': OK');
    expect(result.code).toBe(0);
  });

  test('positive 16-byte serial, SAN, usages, CA:FALSE, authority key id = CA subject key id', async () => {
    const text = (await run('openssl', ['x509', '-in', leafFile, '-noout', '-text'])).stdout;
    expect(leaf.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/); // 16 bytes, top bit clear
    expect(leaf.serialNumber).not.toMatch(/^00/);
    expect(text).toMatch(/Subject: CN ?= ?fields\.example\.net/);
    expect(text).toContain('DNS:fields.example.net');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    const caText = (await run('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text'])).stdout;
    const caKeyId = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(caText)?.[1];
    expect(caKeyId).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(text).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${caKeyId}`));
    expect(leaf.issuer).toBe(new X509Certificate(ca.certPem).subject);
  });

  test('validity: 7 days, backdated one hour, inside the CA validity and Apple\'s 398-day limit', () => {
    const notBefore = new Date(leaf.validFrom).getTime();
    const notAfter = new Date(leaf.validTo).getTime();
    const hour = 3_600_000;
    expect(notBefore).toBeLessThanOrEqual(before - hour + 60_000);
    expect(notBefore).toBeGreaterThan(before - hour - 5 * 60_000);
    expect(notAfter - notBefore).toBe(7 * 24 * hour + hour);
    expect(notAfter).toBeLessThan(ca.validTo.getTime());
  });
});

describe('other real clients', () => {
  test('curl --cacert ca.pem --resolve name:port:127.0.0.1', async () => {
    const caFile = join(dir, 'curl-ca.pem');
    await writeFile(caFile, ca.certPem);
    const name = 'curl.example.com';
    const result = await run('curl', ['-sS', '--max-time', '10', '--cacert', caFile, '--resolve', `${name}:${server.port}:127.0.0.1`, `https://${name}:${server.port}/`]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`ok ${name}`);
  });

  test('curl to an IPv4 literal', async () => {
    const caFile = join(dir, 'curl-ca.pem');
    await writeFile(caFile, ca.certPem);
    const ipServer = await startTlsServer(ca, '127.0.0.1');
    try {
      const result = await run('curl', ['-sS', '--max-time', '10', '--cacert', caFile, `https://127.0.0.1:${ipServer.port}/`]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('ok no-sni');
    } finally {
      await ipServer.close();
    }
  });

  test('curl rejects the leaf without the CA (the check is real)', async () => {
    const name = 'curl.example.com';
    const result = await run('curl', ['-sS', '--max-time', '10', '--cacert', '/dev/null', '--resolve', `${name}:${server.port}:127.0.0.1`, `https://${name}:${server.port}/`]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
  });

  test('python3 ssl with the CA as cafile, hostname checking on', async () => {
    if (!(await hasProgram('python3'))) return expect.fail('python3 is not installed');
    const caFile = join(dir, 'python-ca.pem');
    await writeFile(caFile, ca.certPem);
    const script = [
      'import socket, ssl, sys',
      'port, name, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3]',
      'context = ssl.create_default_context(cafile=cafile)',
      'assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED',
      'with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:',
      '    with context.wrap_socket(raw, server_hostname=name) as tls:',
      '        tls.sendall(b"GET / HTTP/1.1\\r\\nHost: " + name.encode() + b"\\r\\n\\r\\n")',
      '        data = b""',
      '        for _ in range(100):',
      '            chunk = tls.recv(4096)',
      '            if not chunk: break',
      '            data += chunk',
      '        print(tls.version(), data.split(b"\\r\\n\\r\\n", 1)[1].decode())',
    ].join('\n');
    const name = 'python.example.com';
    const result = await run('python3', ['-c', script, String(server.port), name, caFile]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(new RegExp(`^TLSv1\\.[23] ok ${name.replace(/\./g, '\\.')}$`));
  });

  test('openssl s_client verifies the chain with -verify_return_error', async () => {
    const caFile = join(dir, 'sclient-ca.pem');
    await writeFile(caFile, ca.certPem);
    const result = await run(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'sclient.example.com', '-verify_hostname', 'sclient.example.com', '-CAfile', caFile, '-verify_return_error', '-brief', '-ign_eof'],
      { input: 'GET / HTTP/1.1\r\nHost: sclient.example.com\r\n\r\n', timeoutMs: 15_000 },
    );
    expect(result.stderr).toContain('Verification: OK');
    expect(result.stdout).toContain('ok sclient.example.com');
  });
});

describe('minting and caching', () => {
  test('serials are unique over 200 leaves', async () => {
    const serials = new Set<string>();
    const names = Array.from({ length: 200 }, (_, index) => `host${index}.serials.example`);
    // 10 at a time: bounded concurrency against the test server.
    for (let start = 0; start < names.length; start += 10) {
      const batch = await Promise.all(names.slice(start, start + 10).map((servername) => nodeHandshake(server.port, ca.certPem, { servername })));
      for (const result of batch) {
        expect(result.authorized).toBe(true);
        serials.add(result.peer.serialNumber);
      }
    }
    expect(serials.size).toBe(200);
  });

  test('concurrent requests for one new name mint once and share the context', async () => {
    const before = ca.stats();
    const contexts = await Promise.all(Array.from({ length: 20 }, () => ca.secureContextFor('coalesce.example.com')));
    expect(new Set(contexts).size).toBe(1);
    const after = ca.stats();
    expect(after.created - before.created).toBe(1);
    expect(after.coalesced - before.coalesced).toBe(19);
    expect(await ca.secureContextFor('COALESCE.example.com.')).toBe(contexts[0]);
    expect(ca.stats().hits - after.hits).toBe(1);
  });

  test.each([[''], ['bad host'], ['*.example.com'], ['a..b'], [`${'x'.repeat(64)}.example.com`], ['fe80::1%eth0'], ['[fe80::1%25eth0]']])(
    'refuses to mint for %j',
    async (name) => {
      await expect(ca.secureContextFor(name)).rejects.toBeInstanceOf(CaError);
    },
  );

  test('leaf validity is configurable and the cache size bounded', async () => {
    const small = await loadOrCreateCertificateAuthority({ dir: join(dir, 'certs') }, { leafValidityDays: 2, cacheSize: 3 });
    for (const name of ['a.example', 'b.example', 'c.example', 'd.example']) await small.secureContextFor(name);
    expect(small.stats().size).toBe(3);
    const smallServer = await startTlsServer(small);
    try {
      const leaf = new X509Certificate((await nodeHandshake(smallServer.port, small.certPem, { servername: 'a.example' })).leafPem);
      expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBe(2 * 86_400_000 + 3_600_000);
    } finally {
      await smallServer.close();
    }
    await expect(loadOrCreateCertificateAuthority({ dir: join(dir, 'certs') }, { leafValidityDays: 400 })).rejects.toThrow(/397/);
  });
});
