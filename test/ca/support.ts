/** Helpers for the CA tests: temp dirs, child processes with time limits, a MITM-style TLS server. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect, TLSSocket, type PeerCertificate } from 'node:tls';
import type { CertificateAuthority } from '../../src/ca/types.js';

const made: string[] = [];

export async function tempDir(prefix = 'veil-ca-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell) with a time limit; never rejects on a non-zero exit. */
export function run(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number' && !error.killed) return reject(error);
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export function hasProgram(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then((result) => result.code === 0);
}

export interface TlsTestServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Terminates TLS the way Veil's proxy does on a CONNECT tunnel: wraps the raw socket in a server
 * TLSSocket whose SNICallback asks the CA. Clients that send no SNI (IP literals) get the context
 * for `hostWithoutSni`, as the proxy would use the CONNECT host. Replies a tiny HTTP/1.1 response
 * `ok <servername>` and closes.
 */
export async function startTlsServer(ca: CertificateAuthority, hostWithoutSni?: string): Promise<TlsTestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    raw.pause();
    const fallback = hostWithoutSni === undefined ? Promise.resolve(undefined) : ca.secureContextFor(hostWithoutSni);
    fallback.then(
      (secureContext) => {
        const tls = new TLSSocket(raw, {
          isServer: true,
          ...(secureContext ? { secureContext } : {}),
          SNICallback: (name, callback) => ca.secureContextFor(name).then((context) => callback(null, context), callback),
        });
        tls.on('error', () => {});
        let received = '';
        tls.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (!received.includes('\r\n\r\n')) return;
          const name = (tls as TLSSocket & { servername?: string | false }).servername || 'no-sni';
          const body = `ok ${name}`;
          tls.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        });
        raw.resume();
      },
      () => raw.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface NodeHandshake {
  authorized: boolean;
  peer: PeerCertificate;
  /** Leaf certificate as PEM. */
  leafPem: string;
}

/**
 * A node:tls client handshake against 127.0.0.1:port trusting only `caPem`. `servername` is sent as
 * SNI and checked against the certificate; `identity` overrides the name checked (for IP literals,
 * which TLS never sends as SNI).
 */
export function nodeHandshake(port: number, caPem: string, options: { servername?: string; identity?: string }): Promise<NodeHandshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: caPem,
      ...(options.servername ? { servername: options.servername } : {}),
      ...(options.identity ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(options.identity!, cert) } : {}),
      timeout: 10_000,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const leafPem = socket.getPeerX509Certificate()?.toString() ?? '';
      const authorized = socket.authorized;
      socket.destroy();
      resolve({ authorized, peer, leafPem });
    });
    socket.once('timeout', () => socket.destroy(new Error('handshake timed out')));
    socket.once('error', reject);
  });
}

export interface OpensslCa {
  certFile: string;
  keyFile: string;
}

/** A CA made by the openssl CLI (a "user-supplied" CA). `noKeyIdentifiers` leaves out SKI/AKI. */
export async function opensslCa(dir: string, keyType: 'rsa' | 'ec', options: { noKeyIdentifiers?: boolean; notCa?: boolean } = {}): Promise<OpensslCa> {
  const certFile = join(dir, `user-${keyType}-ca.pem`);
  const keyFile = join(dir, `user-${keyType}-ca-key.pem`);
  const keyArgs = keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const extensions = options.notCa
    ? ['-addext', 'basicConstraints=critical,CA:FALSE']
    : ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  if (options.noKeyIdentifiers) extensions.push('-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none');
  const result = await run('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', `/CN=User ${keyType} CA/O=Example Org`, ...extensions]);
  if (result.code !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
  return { certFile, keyFile };
}
