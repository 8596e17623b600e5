/** Where the CA lives: creation (modes, race safety), reloading, explicit files, broken pairs. */
import { X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadOrCreateCertificateAuthority } from '../../src/ca/authority.js';
import type { CaLogger } from '../../src/ca/ca-files.js';
import { CaError } from '../../src/ca/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { fileURLToPath } from 'node:url';
import { assertBuilt } from '../helpers/cli.js';
import { nodeHandshake, opensslCa, removeTempDirs, run, startTlsServer, tempDir } from './support.js';

afterAll(removeTempDirs);

function recordingLogger(): CaLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (_details, message) => warnings.push(message), info: (_details, message) => infos.push(message) };
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('managed CA directory', () => {
  test('first start creates ca.pem (0644) and ca-key.pem (0600) in a new 0700 directory', async () => {
    const dir = join(await tempDir(), 'nested', 'certs');
    const logger = recordingLogger();
    const ca = await loadOrCreateCertificateAuthority({ dir }, { logger });
    expect(ca.created).toBe(true);
    expect(ca.certFile).toBe(join(dir, 'ca.pem'));
    expect(ca.keyFile).toBe(join(dir, 'ca-key.pem'));
    expect((await readdir(dir)).sort()).toEqual(['ca-key.pem', 'ca.pem']);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(ca.certFile)).toBe(0o644);
    expect(await mode(ca.keyFile)).toBe(0o600);
    expect(logger.warnings).toEqual([]);
    expect(logger.infos).toEqual(['created a new Veil CA']);
    expect(await readFile(ca.certFile, 'utf8')).toBe(ca.certPem);
    expect(await readFile(ca.keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(ca.certPem).not.toContain('PRIVATE KEY');
  });

  test('the CA certificate: self-signed root, CA:TRUE pathlen 0, keyCertSign+cRLSign, RSA 2048, 10 years', async () => {
    const ca = await loadOrCreateCertificateAuthority({ dir: join(await tempDir(), 'certs') });
    const text = (await run('openssl', ['x509', '-in', ca.certFile, '-noout', '-text'])).stdout;
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(text).toMatch(/Subject: CN ?= ?Veil Local CA [0-9a-f]{8}, O ?= ?Veil/);
    const x509 = new X509Certificate(ca.certPem);
    expect(x509.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(ca.fingerprint).toBe(x509.fingerprint256);
    const opensslFingerprint = (await run('openssl', ['x509', '-in', ca.certFile, '-noout', '-fingerprint', '-sha256'])).stdout;
    expect(opensslFingerprint.trim().split('=')[1]).toBe(ca.fingerprint);
    const lifetime = ca.validTo.getTime() - ca.validFrom.getTime();
    expect(lifetime / (365.25 * 86_400_000)).toBeCloseTo(10, 1);
    expect(ca.validFrom.getTime()).toBeLessThan(Date.now() - 59 * 60_000);
    const verify = await run('openssl', ['verify', '-CAfile', ca.certFile, ca.certFile]);
    expect(verify.stdout).toContain(': OK');
  });

  test('a second start reuses the same CA and leaves the files alone', async () => {
    const dir = join(await tempDir(), 'certs');
    const first = await loadOrCreateCertificateAuthority({ dir });
    const before = await Promise.all([stat(first.certFile), stat(first.keyFile), readFile(first.keyFile)]);
    const second = await loadOrCreateCertificateAuthority({ dir });
    expect(second.created).toBe(false);
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(second.certPem).toBe(first.certPem);
    const after = await Promise.all([stat(first.certFile), stat(first.keyFile), readFile(first.keyFile)]);
    expect(after[0].mtimeMs).toBe(before[0].mtimeMs);
    expect(after[1].mtimeMs).toBe(before[1].mtimeMs);
    expect(after[2].equals(before[2])).toBe(true);
    // Leaves from the reloaded CA verify against the first CA's certificate.
    const server = await startTlsServer(second);
    try {
      expect((await nodeHandshake(server.port, first.certPem, { servername: 'reload.example.com' })).authorized).toBe(true);
    } finally {
      await server.close();
    }
  });

  test('warns when the key file is readable by group or others', async () => {
    const dir = join(await tempDir(), 'certs');
    await loadOrCreateCertificateAuthority({ dir });
    await chmod(join(dir, 'ca-key.pem'), 0o644);
    const logger = recordingLogger();
    await loadOrCreateCertificateAuthority({ dir }, { logger });
    expect(logger.warnings).toEqual(['CA private key file is readable by group or others; run chmod 600 on it']);
  });

  test('refuses a ca.pem without ca-key.pem, and does not replace it', async () => {
    const dir = join(await tempDir(), 'certs');
    const ca = await loadOrCreateCertificateAuthority({ dir });
    await unlink(ca.keyFile);
    await expect(loadOrCreateCertificateAuthority({ dir })).rejects.toThrow(new CaError(`found ${ca.certFile} but not ${ca.keyFile}; restore the key, or delete ${ca.certFile} to create a new CA`));
    expect(await readFile(ca.certFile, 'utf8')).toBe(ca.certPem);
    expect(await readdir(dir)).toEqual(['ca.pem']);
  });

  test('refuses a ca-key.pem without ca.pem (after waiting briefly for a concurrent creator)', async () => {
    const dir = join(await tempDir(), 'certs');
    const ca = await loadOrCreateCertificateAuthority({ dir });
    await unlink(ca.certFile);
    await expect(loadOrCreateCertificateAuthority({ dir })).rejects.toThrow(/found .*ca-key\.pem but not .*ca\.pem; restore the certificate, or delete/);
    expect(await readdir(dir)).toEqual(['ca-key.pem']);
  });

  test('refuses a certificate and key that do not belong together', async () => {
    const base = await tempDir();
    const one = await loadOrCreateCertificateAuthority({ dir: join(base, 'one') });
    const two = await loadOrCreateCertificateAuthority({ dir: join(base, 'two') });
    await copyFile(two.keyFile, one.keyFile);
    const error = await loadOrCreateCertificateAuthority({ dir: join(base, 'one') }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CaError);
    expect((error as Error).message).toBe(`${one.certFile} and ${one.keyFile} do not belong together (the key does not match the certificate); restore the right pair or delete both to create a new CA`);
    expect((error as Error).message).not.toContain('PRIVATE');
  });

  test('refuses garbage in the key file without echoing it', async () => {
    const dir = join(await tempDir(), 'certs');
    const ca = await loadOrCreateCertificateAuthority({ dir });
    await writeFile(ca.keyFile, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWxvb2tpbmctYnl0ZXM=\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const error = (await loadOrCreateCertificateAuthority({ dir }).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(CaError);
    expect(error.message).toContain('does not hold an unencrypted PEM private key');
    expect(error.message).not.toContain('c2VjcmV0');
  });

  test('two starts at once in one process end with one CA', async () => {
    const dir = join(await tempDir(), 'certs');
    const cas = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateCertificateAuthority({ dir })));
    expect(new Set(cas.map((ca) => ca.fingerprint)).size).toBe(1);
    expect(cas.filter((ca) => ca.created)).toHaveLength(1);
    expect((await readdir(dir)).sort()).toEqual(['ca-key.pem', 'ca.pem']); // no temp files left behind
  });

  test('four processes starting at once end with one CA they all use', async () => {
    const base = await tempDir();
    // The compiled module (npm test builds first): plain node children cannot import TypeScript.
    assertBuilt();
    const bundle = fileURLToPath(new URL('../../dist/ca/index.js', import.meta.url));
    const dir = join(base, 'certs');
    const startAt = Date.now() + 1_500; // a shared start line, so the creations really overlap
    const script = [
      `const { loadOrCreateCertificateAuthority } = await import(${JSON.stringify(bundle)});`,
      `const wait = ${startAt} - Date.now();`,
      'if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 5000)));',
      `const ca = await loadOrCreateCertificateAuthority({ dir: ${JSON.stringify(dir)} });`,
      'console.log(JSON.stringify({ fingerprint: ca.fingerprint, created: ca.created }));',
    ].join('\n');
    const results = await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, ['--input-type=module', '-e', script])));
    for (const result of results) expect(result.stderr).toBe('');
    const outcomes = results.map((result) => JSON.parse(result.stdout) as { fingerprint: string; created: boolean });
    expect(new Set(outcomes.map((outcome) => outcome.fingerprint)).size).toBe(1);
    expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(1);
    expect((await readdir(dir)).sort()).toEqual(['ca-key.pem', 'ca.pem']);
    const onDisk = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    expect(onDisk.fingerprint256).toBe(outcomes[0]!.fingerprint);
  });
});

describe('explicit certificate and key files', () => {
  test.each([
    ['an RSA CA made by openssl', 'rsa', false],
    ['an EC P-256 CA made by openssl', 'ec', false],
    ['an EC CA without key identifiers', 'ec', true],
  ] as const)('uses %s as is, never writing', async (_label, keyType, noKeyIdentifiers) => {
    const dir = await tempDir();
    const files = await opensslCa(dir, keyType, { noKeyIdentifiers });
    const before = await Promise.all([readFile(files.certFile), readFile(files.keyFile), stat(files.certFile), stat(files.keyFile)]);
    const listing = (await readdir(dir)).sort();
    const ca = await loadOrCreateCertificateAuthority({ certFile: files.certFile, keyFile: files.keyFile, dir: join(dir, 'ignored') });
    expect(ca.created).toBe(false);
    expect(ca.certFile).toBe(files.certFile);
    expect(ca.subject).toContain(`CN=User ${keyType} CA`);
    const server = await startTlsServer(ca);
    try {
      const result = await nodeHandshake(server.port, ca.certPem, { servername: 'explicit.example.com' });
      expect(result.authorized).toBe(true);
      const leafFile = join(dir, 'leaf.pem');
      await writeFile(leafFile, result.leafPem);
      const verify = await run('openssl', ['verify', '-CAfile', files.certFile, '-purpose', 'sslserver', leafFile]);
      expect(verify.stdout).toContain(': OK');
      const text = (await run('openssl', ['x509', '-in', leafFile, '-noout', '-text'])).stdout;
      expect(text).toContain(keyType === 'ec' ? 'Signature Algorithm: ecdsa-with-SHA256' : 'Signature Algorithm: sha256WithRSAEncryption');
      await unlink(leafFile);
    } finally {
      await server.close();
    }
    const after = await Promise.all([readFile(files.certFile), readFile(files.keyFile), stat(files.certFile), stat(files.keyFile)]);
    expect(after[0].equals(before[0])).toBe(true);
    expect(after[1].equals(before[1])).toBe(true);
    expect(after[2].mtimeMs).toBe(before[2].mtimeMs);
    expect(after[3].mtimeMs).toBe(before[3].mtimeMs);
    expect((await readdir(dir)).sort()).toEqual(listing);
  });

  test('both files must be given', async () => {
    await expect(loadOrCreateCertificateAuthority({ certFile: '/nonexistent/ca.pem' })).rejects.toThrow(
      'the CA certificate file and key file must be given together (VEIL_CA_CERT_FILE and VEIL_CA_KEY_FILE)',
    );
    await expect(loadOrCreateCertificateAuthority({ keyFile: '/nonexistent/ca-key.pem' })).rejects.toBeInstanceOf(CaError);
  });

  test('both files must exist; nothing is created in their place', async () => {
    const dir = await tempDir();
    const files = await opensslCa(dir, 'rsa');
    const missing = join(dir, 'missing-key.pem');
    await expect(loadOrCreateCertificateAuthority({ certFile: files.certFile, keyFile: missing })).rejects.toThrow(`CA file ${missing} (VEIL_CA_KEY_FILE) does not exist`);
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a certificate that is not a CA is refused', async () => {
    const dir = await tempDir();
    const files = await opensslCa(dir, 'rsa', { notCa: true });
    await expect(loadOrCreateCertificateAuthority(files)).rejects.toThrow(/is not a CA certificate/);
  });

  test('explicit files with a mismatched key are refused', async () => {
    const dir = await tempDir();
    const rsa = await opensslCa(dir, 'rsa');
    const ec = await opensslCa(dir, 'ec');
    await expect(loadOrCreateCertificateAuthority({ certFile: rsa.certFile, keyFile: ec.keyFile })).rejects.toThrow(/do not belong together/);
  });
});

test('the key-readable warning is real: a 0600 key after chmod gives none', async () => {
  const dir = join(await tempDir(), 'certs');
  await mkdir(dir, { recursive: true });
  const ca = await loadOrCreateCertificateAuthority({ dir });
  await chmod(ca.keyFile, 0o640);
  const loud = recordingLogger();
  await loadOrCreateCertificateAuthority({ dir }, { logger: loud });
  expect(loud.warnings).toHaveLength(1);
  await chmod(ca.keyFile, 0o600);
  const quiet = recordingLogger();
  await loadOrCreateCertificateAuthority({ dir }, { logger: quiet });
  expect(quiet.warnings).toEqual([]);
});

test('the warning goes through a real pino logger with the file and its mode', async () => {
  const dir = join(await tempDir(), 'certs');
  const ca = await loadOrCreateCertificateAuthority({ dir });
  await chmod(ca.keyFile, 0o604);
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  await loadOrCreateCertificateAuthority({ dir }, { logger: createLogger({ level: 'info' }, destination) });
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ level: 40, keyFile: ca.keyFile, mode: '0604', msg: 'CA private key file is readable by group or others; run chmod 600 on it' });
});

test('a dangling symlink where ca-key.pem should be gives a clear error, not an endless retry', async () => {
  const dir = join(await tempDir(), 'certs');
  await mkdir(dir, { recursive: true });
  await symlink(join(dir, 'nowhere.pem'), join(dir, 'ca-key.pem'));
  await expect(loadOrCreateCertificateAuthority({ dir })).rejects.toThrow(/exists but cannot be read/);
  expect((await readdir(dir)).sort()).toEqual(['ca-key.pem']);
});
