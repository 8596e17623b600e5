/**
 * Test upstreams for the proxy: a throwaway CA (node-forge builds, node:crypto keys), leaf
 * certificates for chosen names, and HTTP/HTTPS servers on 127.0.0.1 that record and echo exactly
 * what they received (method, target, raw headers, body) so tests assert on what the UPSTREAM saw.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import forge from 'node-forge';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

export interface TestCa extends KeyAndCert {
  /** The CA certificate written to a temp file (for --cacert / upstreamCaFile). */
  certFile: string;
  issue(names: readonly string[]): KeyAndCert;
}

function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function baseCertificate(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  return cert;
}

/** A CA that can issue server leaves for any DNS names / IPs. */
export function createTestCa(commonName = 'Veil test upstream CA'): TestCa {
  const keyPem = rsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  const cert = baseCertificate(publicKey, 30);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const dir = mkdtempSync(join(tmpdir(), 'veil-test-ca-'));
  const certFile = join(dir, 'ca.pem');
  writeFileSync(certFile, certPem);

  // One leaf key for every leaf: key generation is the slow part and tests do not need distinct keys.
  const leafKeyPem = rsaKeyPem();
  const leafKey = forge.pki.privateKeyFromPem(leafKeyPem);
  const leafPublic = forge.pki.setRsaPublicKey(leafKey.n, leafKey.e);

  return {
    keyPem,
    certPem,
    certFile,
    issue(names) {
      const leaf = baseCertificate(leafPublic, 7);
      leaf.setSubject([{ name: 'commonName', value: names[0] ?? 'localhost' }]);
      leaf.setIssuer(cert.subject.attributes);
      leaf.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
        },
      ]);
      leaf.sign(key, forge.md.sha256.create());
      return { keyPem: leafKeyPem, certPem: forge.pki.certificateToPem(leaf) };
    },
  };
}

export interface ReceivedRequest {
  method: string;
  /** The request target as it arrived (origin-form). */
  url: string;
  rawHeaders: string[];
  headers: IncomingMessage['headers'];
  body: string;
  /** The body bytes exactly as received (not part of the JSON echo). */
  rawBody: Buffer;
  httpVersion: string;
}

export interface TestUpstream {
  port: number;
  /** Every request that reached this upstream, in order. */
  received: ReceivedRequest[];
  /** Sockets accepted (to see that nothing was forwarded). */
  connections: number;
  /** `/stream` responses cut before they finished (the proxy aborted the upstream request). */
  abortedResponses: number;
  /** Bytes the last `/flood` response handed to its socket so far. */
  floodWritten: number;
  /** Lets every `/hold` response send its second event and finish. */
  releaseHeld(): void;
  close(): Promise<void>;
}

/**
 * Paths with behaviour: `/die-mid-response` sends a head and part of the body then kills the socket;
 * `/hang` never answers; `/stream?chunks=N` answers N chunks slowly; `/flood?mb=N` sends N MiB as
 * fast as backpressure allows; `/no-read` neither reads the body nor answers; `/gzip-echo` and `/br-echo`
 * echo compressed whatever Accept-Encoding said; `/chunked-echo` echoes without Content-Length in 7-byte
 * writes; `/odd-encoding-echo` labels the echo `Content-Encoding: x-custom`; `/hold` sends one server-sent event and the next only after releaseHeld(); everything else echoes JSON (with the request's Authorization in `X-Echoed-Authorization`).
 */
function echoHandler(received: ReceivedRequest[], counters: { abortedResponses: number; floodWritten: number; held: (() => void)[] }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    // Never reads the body nor answers: the request direction must stall behind it.
    if ((req.url ?? '').startsWith('/no-read')) {
      req.on('error', () => {});
      res.on('error', () => {});
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      const record: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: [...req.rawHeaders],
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        rawBody: Buffer.concat(chunks),
        httpVersion: req.httpVersion,
      };
      received.push(record);
      const path = (req.url ?? '').split('?')[0];
      if (path === '/die-mid-response') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000000' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (path === '/hang') return;
      if (path === '/hold') {
        // Server-sent events: the first event at once, the second only after releaseHeld() (or 15 s).
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        const finish = () => {
          clearTimeout(timer);
          if (!res.destroyed) res.end('data: second\n\n');
        };
        const timer = setTimeout(finish, 15_000);
        counters.held.push(finish);
        return;
      }
      if (path === '/flood') {
        // Writes `mb` MiB honouring backpressure; counters.floodWritten shows how far it got.
        const total = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('mb') ?? '64') * 1024 * 1024;
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
        const pump = () => {
          while (counters.floodWritten < total && !res.destroyed) {
            counters.floodWritten += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        counters.floodWritten = 0;
        pump();
        return;
      }
      if (path === '/stream') {
        const total = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('chunks') ?? '20');
        res.writeHead(200, { 'content-type': 'text/plain' });
        let sent = 0;
        const timer = setInterval(() => {
          if (sent >= total || res.destroyed) {
            clearInterval(timer);
            res.end();
            return;
          }
          sent += 1;
          res.write(`chunk ${sent}\n`);
        }, 20);
        res.on('close', () => {
          clearInterval(timer);
          if (!res.writableFinished) counters.abortedResponses += 1;
        });
        return;
      }
      const body = JSON.stringify({ ...record, rawBody: undefined });
      // Echoes the Authorization header in a response header too (scrubbing tests).
      const echoed = req.headers.authorization === undefined ? {} : { 'X-Echoed-Authorization': req.headers.authorization };
      if (path === '/gzip-echo' || path === '/br-echo') {
        // Compressed whatever the request's Accept-Encoding said.
        const compressed = path === '/gzip-echo' ? gzipSync(body) : brotliCompressSync(body);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': path === '/gzip-echo' ? 'gzip' : 'br', 'Content-Length': compressed.length, ...echoed });
        res.end(compressed);
        return;
      }
      if (path === '/odd-encoding-echo') {
        // A Content-Encoding nobody can decode (the body is in fact the plain echo).
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'x-custom', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (path === '/chunked-echo') {
        // No Content-Length, written in small pieces so a value spans chunk boundaries.
        res.writeHead(200, { 'Content-Type': 'application/json', ...echoed });
        for (let offset = 0; offset < body.length; offset += 7) res.write(body.slice(offset, offset + 7));
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream-Case': 'Kept', 'Content-Length': Buffer.byteLength(body), ...echoed });
      res.end(body);
    });
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** An echo upstream; HTTPS when `tls` is given. */
export async function startUpstream(tls?: KeyAndCert): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const counters = { abortedResponses: 0, floodWritten: 0, held: [] as (() => void)[] };
  const handler = echoHandler(received, counters);
  const server: Server = tls ? createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, handler) : createHttpServer(handler);
  const sockets = new Set<Socket>();
  const upstream: TestUpstream = {
    port: 0,
    received,
    connections: 0,
    get abortedResponses() {
      return counters.abortedResponses;
    },
    get floodWritten() {
      return counters.floodWritten;
    },
    releaseHeld() {
      for (const finish of counters.held.splice(0)) finish();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    upstream.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  upstream.port = await listen(server);
  return upstream;
}

/** A port nothing listens on (bound then closed). */
export async function deadPort(): Promise<number> {
  const server = createHttpServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
