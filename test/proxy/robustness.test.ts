import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { curl } from '../helpers/proxy-clients.js';
import { assertNoValueLogged, startFixture, VALUES, type Fixture } from '../helpers/proxy-fixture.js';

let fx: Fixture | undefined;
afterEach(async () => {
  if (fx) {
    assertNoValueLogged(fx);
    await fx.close();
  }
  fx = undefined;
});

/** Polls a condition at most `attempts` times, 50 ms apart. */
async function eventually(condition: () => boolean, attempts = 100): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

function auth(f: Fixture): string {
  return `Basic ${Buffer.from(f.userinfo).toString('base64')}`;
}

/** The proxy still answers a normal request with the value swapped in. */
async function stillServes(f: Fixture): Promise<void> {
  const result = await curl(`http://api.example.com:${f.http.port}/after`, ['-x', `http://${f.userinfo}@127.0.0.1:${f.proxyPort}`, '-H', `X-Key: ${f.secrets.exact.placeholder}`]);
  expect(result.status).toBe(200);
  expect(f.http.received.at(-1)!.headers['x-key']).toBe(VALUES.exact);
}

function rawSocket(f: Fixture): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: f.proxyPort }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function connectTunnel(f: Fixture, target: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: f.proxyPort, method: 'CONNECT', path: target, headers: { 'proxy-authorization': auth(f) } });
    req.once('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`CONNECT ${res.statusCode}`))));
    req.once('error', reject);
    req.end();
  });
}

describe('backpressure', () => {
  it('a client that stops reading stalls the upstream instead of filling the proxy memory', async () => {
    fx = await startFixture();
    const totalMb = 64;
    const socket = await rawSocket(fx);
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      socket.pause(); // read one chunk, then stop reading
    });
    socket.write(`GET http://api.example.com:${fx.http.port}/flood?mb=${totalMb} HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\nProxy-Authorization: ${auth(fx)}\r\n\r\n`);
    // Wait until the upstream stops making progress (bounded): it is blocked by the paused client.
    let last = -1;
    for (let round = 0; round < 40 && fx.http.floodWritten !== last; round += 1) {
      last = fx.http.floodWritten;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(fx.http.floodWritten).toBeGreaterThan(0);
    expect(fx.http.floodWritten).toBeLessThan((totalMb / 2) * 1024 * 1024);
    // Reading again lets everything through.
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    expect(await eventually(() => received >= totalMb * 1024 * 1024, 400)).toBe(true);
    socket.destroy();
  });
});

describe('backpressure, request direction', () => {
  it('an upstream that does not read the body stalls the uploading client', async () => {
    fx = await startFixture();
    const total = 64 * 1024 * 1024;
    const socket = await rawSocket(fx);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.write(
      `POST http://api.example.com:${fx.http.port}/no-read HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n` +
        `Proxy-Authorization: ${auth(fx)}\r\nContent-Length: ${total}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let accepted = 0;
    let stalled = false;
    // Write while the socket takes it; a missing 'drain' within 1.5 s means the chain is blocked.
    for (let round = 0; round < 2_000 && accepted < total && !stalled; round += 1) {
      accepted += chunk.length;
      if (!socket.write(chunk)) {
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 1_500);
          socket.once('drain', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        stalled = !drained;
      }
    }
    expect(stalled).toBe(true);
    expect(accepted).toBeLessThan(total / 2);
    socket.destroy();
    await stillServes(fx);
  });
});

describe('client and upstream failures never crash the proxy', () => {
  it('a client that dies mid-request body', async () => {
    fx = await startFixture();
    const socket = await rawSocket(fx);
    socket.write(
      `POST http://api.example.com:${fx.http.port}/upload HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\n` +
        `Proxy-Authorization: ${auth(fx)}\r\nContent-Length: 100000\r\n\r\npartial body`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await stillServes(fx);
  });

  it('a client that dies mid-response aborts the upstream request (plain HTTP)', async () => {
    fx = await startFixture();
    const socket = await rawSocket(fx);
    socket.on('error', () => {});
    socket.write(`GET http://api.example.com:${fx.http.port}/stream?chunks=500 HTTP/1.1\r\nHost: api.example.com:${fx.http.port}\r\nProxy-Authorization: ${auth(fx)}\r\n\r\n`);
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.destroy();
    expect(await eventually(() => fx!.http.abortedResponses >= 1)).toBe(true);
    await stillServes(fx);
  });

  it('a client that dies mid-response inside an intercepted TLS tunnel', async () => {
    fx = await startFixture();
    const tunnel = await connectTunnel(fx, `api.example.com:${fx.https.port}`);
    const tls = tlsConnect({ socket: tunnel, servername: 'api.example.com', ca: fx.veilCa.certPem });
    tls.on('error', () => {});
    await new Promise<void>((resolve) => tls.once('secureConnect', () => resolve()));
    tls.write(`GET /stream?chunks=500 HTTP/1.1\r\nHost: api.example.com:${fx.https.port}\r\n\r\n`);
    await new Promise<void>((resolve) => tls.once('data', () => resolve()));
    tunnel.destroy();
    expect(await eventually(() => fx!.https.abortedResponses >= 1)).toBe(true);
    await stillServes(fx);
  });

  it('an upstream that dies mid-response: the client sees a cut response, the proxy goes on', async () => {
    fx = await startFixture();
    const result = await curl(`http://api.example.com:${fx.http.port}/die-mid-response`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(result.status).toBe(200);
    expect(result.exitCode).not.toBe(0);
    const secure = await curl(`https://api.example.com:${fx.https.port}/die-mid-response`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`, '--cacert', fx.veilCa.certFile]);
    expect(secure.exitCode).not.toBe(0);
    await stillServes(fx);
  });

  it('an upstream that never answers gives 504', async () => {
    fx = await startFixture({ timeouts: { upstreamHeadersMs: 300 } });
    const result = await curl(`http://api.example.com:${fx.http.port}/hang`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(result.status).toBe(504);
    await stillServes(fx);
  });

  it('a client that never finishes its request head is disconnected', async () => {
    fx = await startFixture({ timeouts: { headersMs: 500 } });
    const socket = await rawSocket(fx);
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.write(`GET http://api.example.com:${fx.http.port}/ HTTP/1.1\r\nHost: api.exa`);
    expect(await eventually(() => socket.closed, 200)).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    socket.destroy();
    await stillServes(fx);
  });

  it('a slow request head inside an intercepted TLS tunnel gets 408', async () => {
    fx = await startFixture({ timeouts: { headersMs: 500 } });
    const tunnel = await connectTunnel(fx, `api.example.com:${fx.https.port}`);
    const tls = tlsConnect({ socket: tunnel, servername: 'api.example.com', ca: fx.veilCa.certPem });
    tls.on('error', () => {});
    await new Promise<void>((resolve) => tls.once('secureConnect', () => resolve()));
    let answer = '';
    tls.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    tls.write('GET / HTTP/1.1\r\nHost: api.exa');
    expect(await eventually(() => tls.closed, 200)).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(fx.https.received).toHaveLength(0);
    await stillServes(fx);
  });

  it('a CONNECT client that starts a TLS handshake and goes silent is disconnected', async () => {
    fx = await startFixture({ timeouts: { tlsHandshakeMs: 300 } });
    const tunnel = await connectTunnel(fx, `api.example.com:${fx.https.port}`);
    tunnel.on('error', () => {});
    tunnel.on('data', () => {});
    tunnel.write(Buffer.from([0x16, 0x03, 0x01, 0x00]));
    expect(await eventually(() => tunnel.closed, 200)).toBe(true);
    await stillServes(fx);
  });

  it('a raw tunnel to a dead port closes the client side', async () => {
    fx = await startFixture();
    const { deadPort } = await import('../helpers/upstream.js');
    const tunnel = await connectTunnel(fx, `api.example.com:${await deadPort()}`);
    tunnel.on('error', () => {});
    tunnel.on('data', () => {});
    tunnel.write('GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
    expect(await eventually(() => tunnel.closed, 200)).toBe(true);
    await stillServes(fx);
  });

  it('close() lets an in-flight response finish, then refuses new connections', async () => {
    fx = await startFixture();
    const pending = curl(`http://api.example.com:${fx.http.port}/stream?chunks=10`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(await eventually(() => fx!.http.received.some((r) => r.url.startsWith('/stream')))).toBe(true);
    await fx.proxy.close();
    const result = await pending;
    expect(result.status).toBe(200);
    expect(result.body.split('\n').filter(Boolean)).toHaveLength(10);
    const after = await curl(`http://api.example.com:${fx.http.port}/`, ['-x', `http://${fx.userinfo}@127.0.0.1:${fx.proxyPort}`]);
    expect(after.status).toBe(0);
  });
});
