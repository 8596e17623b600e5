/** Trust files (merged bundle, CA file, Java truststore) and the env vars that point clients at them. */
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadOrCreateCertificateAuthority, type LocalCertificateAuthority } from '../../src/ca/authority.js';
import { certificatesFromPem } from '../../src/ca/der.js';
import { readSystemRoots } from '../../src/ca/system-roots.js';
import { BUNDLE_ENV_NAMES, JAVA_TRUSTSTORE_PASSWORD, trustEnv, VEIL_CA_ALIAS, writeTrustFiles, type TrustFiles } from '../../src/ca/trust.js';
import { hasProgram, removeTempDirs, run, startTlsServer, tempDir, type TlsTestServer } from './support.js';

let ca: LocalCertificateAuthority;
let trustDir: string;
let files: TrustFiles;

beforeAll(async () => {
  const base = await tempDir();
  ca = await loadOrCreateCertificateAuthority({ dir: join(base, 'certs') });
  // A space in the path: JAVA_TOOL_OPTIONS must quote it and the JVM must honour the quotes.
  trustDir = join(base, 'trust files');
  files = await writeTrustFiles(ca, trustDir);
});
afterAll(removeTempDirs);

describe('writeTrustFiles', () => {
  test('the merged bundle holds every system root and the Veil CA; the CA file holds the CA alone', async () => {
    const system = await readSystemRoots();
    expect(system.source).toBe('/etc/ssl/certs/ca-certificates.crt');
    expect(system.certificates.length).toBeGreaterThan(50);
    const bundle = certificatesFromPem(await readFile(files.bundlePem, 'utf8'));
    const caDer = new X509Certificate(ca.certPem).raw;
    expect(bundle).toHaveLength(system.certificates.length + 1);
    const inBundle = new Set(bundle.map((der) => der.toString('base64')));
    for (const root of system.certificates) expect(inBundle.has(root.toString('base64'))).toBe(true);
    expect(inBundle.has(caDer.toString('base64'))).toBe(true);
    const caOnly = certificatesFromPem(await readFile(files.caPem, 'utf8'));
    expect(caOnly).toHaveLength(1);
    expect(caOnly[0]!.equals(caDer)).toBe(true);
    expect(files.systemRootCount).toBe(system.certificates.length);
  });

  test('file names carry the CA fingerprint; files are 0644 and hold no private key', async () => {
    const prefix = ca.fingerprint.replace(/:/g, '').toLowerCase().slice(0, 16);
    for (const path of [files.caPem, files.bundlePem, files.javaTrustStore]) {
      expect(path.startsWith(trustDir)).toBe(true);
      expect(path).toContain(prefix);
      expect((await stat(path)).mode & 0o777).toBe(0o644);
      expect((await readFile(path, 'latin1')).includes('PRIVATE KEY')).toBe(false);
    }
  });

  test('reused for the same CA: same paths, files not rewritten', async () => {
    const before = await Promise.all([files.caPem, files.bundlePem, files.javaTrustStore].map((path) => stat(path)));
    const again = await writeTrustFiles(ca, trustDir);
    expect(again).toEqual(files);
    const after = await Promise.all([files.caPem, files.bundlePem, files.javaTrustStore].map((path) => stat(path)));
    for (const [index, info] of after.entries()) {
      expect(info.ino).toBe(before[index]!.ino);
      expect(info.mtimeMs).toBe(before[index]!.mtimeMs);
    }
  });

  test('a different CA gets different files next to the old ones', async () => {
    const other = await loadOrCreateCertificateAuthority({ dir: join(await tempDir(), 'certs') });
    const otherFiles = await writeTrustFiles(other, trustDir);
    expect(otherFiles.caPem).not.toBe(files.caPem);
    expect(otherFiles.bundlePem).not.toBe(files.bundlePem);
    expect(otherFiles.javaTrustStore).not.toBe(files.javaTrustStore);
    expect(await readFile(otherFiles.caPem, 'utf8')).toBe(other.certPem);
    expect(certificatesFromPem(await readFile(files.caPem, 'utf8'))[0]!.equals(new X509Certificate(ca.certPem).raw)).toBe(true);
  });

  test('keytool lists the Veil CA and every system root as trustedCertEntry', async () => {
    if (!(await hasProgram('keytool'))) {
      console.warn('SKIPPED: keytool is not installed, the Java truststore was not checked with a JDK');
      return;
    }
    const result = await run('keytool', ['-list', '-keystore', files.javaTrustStore, '-storetype', 'PKCS12', '-storepass', JAVA_TRUSTSTORE_PASSWORD]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Your keystore contains ${files.systemRootCount + 1} entries`);
    expect(result.stdout.match(/trustedCertEntry/g)).toHaveLength(files.systemRootCount + 1);
    expect(result.stdout).not.toContain('PrivateKeyEntry');
    const veil = await run('keytool', ['-list', '-keystore', files.javaTrustStore, '-storetype', 'PKCS12', '-storepass', JAVA_TRUSTSTORE_PASSWORD, '-alias', VEIL_CA_ALIAS]);
    expect(veil.stdout).toContain('trustedCertEntry');
    expect(veil.stdout).toContain(ca.fingerprint);
    const wrongPassword = await run('keytool', ['-list', '-keystore', files.javaTrustStore, '-storetype', 'PKCS12', '-storepass', 'not-the-password']);
    expect(wrongPassword.code).not.toBe(0);
  });
});

describe('real clients configured only through trustEnv', () => {
  let server: TlsTestServer;
  let ipServer: TlsTestServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    server = await startTlsServer(ca);
    ipServer = await startTlsServer(ca, '127.0.0.1');
    const base = { ...process.env };
    for (const name of [...BUNDLE_ENV_NAMES, 'NODE_EXTRA_CA_CERTS', 'JAVA_TOOL_OPTIONS']) delete base[name];
    env = { ...base, ...trustEnv(files) };
  });
  afterAll(async () => {
    await server?.close();
    await ipServer?.close();
  });

  test('curl via CURL_CA_BUNDLE', async () => {
    const name = 'curl-env.example.com';
    const result = await run('curl', ['-sS', '--max-time', '10', '--resolve', `${name}:${server.port}:127.0.0.1`, `https://${name}:${server.port}/`], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`ok ${name}`);
    const without = await run('curl', ['-sS', '--max-time', '10', '--resolve', `${name}:${server.port}:127.0.0.1`, `https://${name}:${server.port}/`], {
      env: { ...env, CURL_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' },
    });
    expect(without.code).toBe(60); // the system bundle alone does not trust Veil's leaves
  });

  test('python3 default context via SSL_CERT_FILE', async () => {
    const script = [
      'import socket, ssl, sys',
      'context = ssl.create_default_context()',
      'with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:',
      '    with context.wrap_socket(raw, server_hostname=sys.argv[2]) as tls:',
      '        print(tls.getpeercert()["subjectAltName"])',
    ].join('\n');
    const result = await run('python3', ['-c', script, String(server.port), 'python-env.example.com'], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe("(('DNS', 'python-env.example.com'),)");
  });

  test('node https via NODE_EXTRA_CA_CERTS (added to Node\'s own roots)', async () => {
    const script = [
      "const https = require('node:https');",
      "const request = https.get({ host: '127.0.0.1', port: Number(process.argv[1]), servername: 'node-env.example.com', path: '/', timeout: 10000 }, (response) => {",
      "  let body = ''; response.on('data', (chunk) => (body += chunk)); response.on('end', () => console.log(body));",
      '});',
      "request.on('error', (error) => { console.error(error.code || error.message); process.exitCode = 1; });",
    ].join('\n');
    const result = await run(process.execPath, ['-e', script, String(server.port)], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('ok node-env.example.com');
  });

  test('git via GIT_SSL_CAINFO', async () => {
    const name = 'git.example.com';
    const args = ['-c', `http.curloptResolve=${name}:${server.port}:127.0.0.1`, 'ls-remote', `https://${name}:${server.port}/repo.git`];
    const trusted = await run('git', args, { env: { ...env, GIT_TERMINAL_PROMPT: '0' } });
    // git reads the plain-text reply as an empty dumb-HTTP ref list: success means TLS verified.
    expect(trusted).toEqual({ code: 0, stdout: '', stderr: '' });
    const untrusted = await run('git', args, { env: { ...env, GIT_TERMINAL_PROMPT: '0', GIT_SSL_CAINFO: '/etc/ssl/certs/ca-certificates.crt' } });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate verification failed|SSL certificate problem/);
  });

  test('java via JAVA_TOOL_OPTIONS truststore (path with a space)', async () => {
    if (!(await hasProgram('java'))) {
      console.warn('SKIPPED: java is not installed');
      return;
    }
    const probe = new URL('./TrustProbe.java', import.meta.url).pathname;
    const result = await run('java', [probe, `https://127.0.0.1:${ipServer.port}/`], { env, timeoutMs: 60_000 });
    expect(result.stderr).toContain('Picked up JAVA_TOOL_OPTIONS');
    expect(result.stdout.trim()).toBe('ok no-sni');
    expect(result.code).toBe(0);
    const withoutTrust = await run('java', [probe, `https://127.0.0.1:${ipServer.port}/`], { env: { ...env, JAVA_TOOL_OPTIONS: '' }, timeoutMs: 60_000 });
    expect(withoutTrust.code).not.toBe(0);
    expect(withoutTrust.stderr).toContain('PKIX path building failed');
  }, 120_000);
});

describe('trustEnv (pure)', () => {
  const paths = { caPem: '/t/veil-ca.pem', bundlePem: '/t/bundle.pem', javaTrustStore: '/t/store.p12' };

  test('bundle variables get the merged bundle, NODE_EXTRA_CA_CERTS the CA alone', () => {
    expect(trustEnv(paths)).toEqual({
      SSL_CERT_FILE: '/t/bundle.pem',
      REQUESTS_CA_BUNDLE: '/t/bundle.pem',
      CURL_CA_BUNDLE: '/t/bundle.pem',
      GIT_SSL_CAINFO: '/t/bundle.pem',
      PIP_CERT: '/t/bundle.pem',
      AWS_CA_BUNDLE: '/t/bundle.pem',
      DENO_CERT: '/t/bundle.pem',
      CARGO_HTTP_CAINFO: '/t/bundle.pem',
      NODE_EXTRA_CA_CERTS: '/t/veil-ca.pem',
      JAVA_TOOL_OPTIONS: '-Djavax.net.ssl.trustStore=/t/store.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit',
    });
  });

  test('password override and quoting of whitespace', () => {
    const env = trustEnv({ ...paths, javaTrustStore: '/my dir/store.p12' }, { javaTrustStorePassword: 'secret' });
    expect(env.JAVA_TOOL_OPTIONS).toBe('"-Djavax.net.ssl.trustStore=/my dir/store.p12" -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=secret');
  });

  test('property: without whitespace, JAVA_TOOL_OPTIONS splits into exactly the three options', () => {
    const token = fc.string({ minLength: 1, maxLength: 40 }).filter((text) => !/\s/.test(text));
    fc.assert(
      fc.property(token, token, token, token, (ca, bundle, store, password) => {
        const env = trustEnv({ caPem: ca, bundlePem: bundle, javaTrustStore: store }, { javaTrustStorePassword: password });
        expect(env.JAVA_TOOL_OPTIONS!.split(' ')).toEqual([
          `-Djavax.net.ssl.trustStore=${store}`,
          '-Djavax.net.ssl.trustStoreType=PKCS12',
          `-Djavax.net.ssl.trustStorePassword=${password}`,
        ]);
        for (const name of BUNDLE_ENV_NAMES) expect(env[name]).toBe(bundle);
        expect(env.NODE_EXTRA_CA_CERTS).toBe(ca);
      }),
      { numRuns: 200 },
    );
  });
});
