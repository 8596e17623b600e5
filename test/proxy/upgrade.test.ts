/**
 * Upgrade requests through the proxy: a real `ws` client over CONNECT + TLS, a hand-written
 * WebSocket handshake and frames on the plain proxy port, and refusals before anything is relayed.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoValueLogged, startFixture, TEST_HOSTNAMES, VALUES, type Fixture } from '../helpers/proxy-fixture.js';
import { createTestCa, deadPort } from '../helpers/upstream.js';
import { nextMessages, startWsUpstream, wssThroughProxy, type WsUpstream } from '../helpers/ws-upstream.js';

let fx: Fixture;
let wss: WsUpstream;
let ws: WsUpstream;

beforeAll(async () => {
  fx = await startFixture();
  wss = await startWsUpstream(fx.upstreamCa.issue([...TEST_HOSTNAMES, '127.0.0.1']));
  ws = await startWsUpstream();
});
afterAll(async () => {
  assertNoValueLogged(fx);
  await Promise.all([wss.close(), ws.close()]);
  await fx.close();
});

describe('WebSocket over CONNECT + TLS (ws client)', () => {
  it('verifies the upstream certificate: an unknown CA gets 502 and never sees the handshake', async () => {
    const stranger = await startWsUpstream(createTestCa('Unknown WebSocket CA').issue([...TEST_HOSTNAMES]));
    try {
      const client = await wssThroughProxy({
        proxyPort: fx.proxyPort,
        proxyUserinfo: fx.userinfo,
        host: 'api.example.com',
        port: stranger.port,
        path: '/socket',
        caPem: fx.veilCa.certPem,
        headers: { Authorization: `Bearer ${fx.secrets.exact.placeholder}` },
      });
      const status = await new Promise<number>((resolve, reject) => {
        client.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        client.once('open', () => reject(new Error('the handshake went through to an untrusted upstream')));
        client.once('error', reject);
      });
      expect(status).toBe(502);
      expect(stranger.handshakes).toHaveLength(0);
    } finally {
      await stranger.close();
    }
  });

  it('substitutes in the handshake (header and query), then relays messages both ways', async () => {
    const placeholder = fx.secrets.exact.placeholder;
    const client = await wssThroughProxy({
      proxyPort: fx.proxyPort,
      proxyUserinfo: fx.userinfo,
      host: 'api.example.com',
      port: wss.port,
      path: `/socket?token=${placeholder}`,
      caPem: fx.veilCa.certPem,
      headers: { Authorization: `Bearer ${placeholder}` },
    });
    const first = nextMessages(client, 1);
    const upgradeHeaders = new Promise<Record<string, string | string[] | undefined>>((resolve) => client.once('upgrade', (response) => resolve(response.headers)));
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    expect(await first).toEqual(['hello']);
    // The 101 head echoed the value: the client sees the placeholder.
    expect((await upgradeHeaders)['x-echoed-authorization']).toBe(`Bearer ${placeholder}`);
    const handshake = wss.handshakes.at(-1)!;
    expect(handshake.headers.authorization).toBe(`Bearer ${VALUES.exact}`);
    expect(handshake.url).toBe(`/socket?token=${VALUES.exact}`);

    // A 4 MiB binary message each way: relayed intact with backpressure on both sockets.
    const big = randomBytes(4 * 1024 * 1024);
    const echoed = new Promise<Buffer>((resolve) => client.once('message', (data: Buffer) => resolve(data)));
    client.send(big);
    expect((await echoed).equals(big)).toBe(true);
    const texts = nextMessages(client, 2);
    client.send('one');
    client.send('two');
    expect(await texts).toEqual(['one', 'two']);
    client.close();
  });

  it('leaves the placeholder for a host not on the allowlist (pass mode)', async () => {
    const client = await wssThroughProxy({
      proxyPort: fx.proxyPort,
      proxyUserinfo: fx.userinfo,
      host: 'other.example.com',
      port: wss.port,
      path: '/',
      caPem: fx.veilCa.certPem,
      headers: { 'X-Key': fx.secrets.exact.placeholder },
    });
    const first = nextMessages(client, 1);
    expect(await first).toEqual(['hello']);
    expect(wss.handshakes.at(-1)!.headers['x-key']).toBe(fx.secrets.exact.placeholder);
    client.close();
  });
});

/** A minimal client-side text frame (FIN, opcode 1, masked, payload < 126 bytes). */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Writes `head` on a fresh socket to the proxy and collects what comes back until `until` matches or the socket ends. */
function rawExchange(port: number, head: string, afterHead: (socket: Socket, received: () => Buffer) => void, until: (data: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    let headDone = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer; got: ${data.toString('latin1').slice(0, 300)}`));
    }, 15_000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!headDone && data.includes('\r\n\r\n')) {
        headDone = true;
        afterHead(socket, () => data);
      }
      if (until(data)) finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    socket.write(head);
  });
}

describe('WebSocket in block mode', () => {
  it('refuses a handshake carrying a placeholder the host may not receive (403), relaying nothing', async () => {
    const blocking = await startFixture({ disallowed: 'block' });
    try {
      const before = ws.handshakes.length;
      const data = await rawExchange(
        blocking.proxyPort,
        `GET http://other.example.com:${ws.port}/ HTTP/1.1\r\nHost: other.example.com:${ws.port}\r\nProxy-Authorization: Basic ${Buffer.from(blocking.userinfo).toString('base64')}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nX-Key: ${blocking.secrets.exact.placeholder}\r\n\r\n`,
        () => {},
        () => false,
      );
      expect(data.toString('latin1')).toMatch(/^HTTP\/1\.1 403 /);
      expect(data.toString('latin1')).toContain('EXACT_KEY (header)');
      expect(ws.handshakes.length).toBe(before);
    } finally {
      await blocking.close();
    }
  });
});

describe('WebSocket on the plain proxy port (absolute-form handshake)', () => {
  it('answers 101 from the upstream and relays frames', async () => {
    const key = randomBytes(16).toString('base64');
    const head = [
      `GET http://api.example.com:${ws.port}/plain?key=${fx.secrets.exact.placeholder} HTTP/1.1`,
      `Host: api.example.com:${ws.port}`,
      `Proxy-Authorization: Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${key}`,
      `X-Key: ${fx.secrets.exact.placeholder}`,
      '',
      '',
    ].join('\r\n');
    const data = await rawExchange(
      fx.proxyPort,
      head,
      (socket) => socket.write(maskedTextFrame('ping-through-proxy')),
      (received) => received.includes('ping-through-proxy'),
    );
    const text = data.toString('latin1');
    expect(text.startsWith('HTTP/1.1 101')).toBe(true);
    expect(text).toContain('hello');
    expect(text).toContain('ping-through-proxy');
    const handshake = ws.handshakes.at(-1)!;
    expect(handshake.url).toBe(`/plain?key=${VALUES.exact}`);
    expect(handshake.headers['x-key']).toBe(VALUES.exact);
    expect(handshake.headers['proxy-authorization']).toBeUndefined();
  });

  it('relays a declined upgrade (401 quoting the credentials) scrubbed, then closes', async () => {
    const data = await rawExchange(
      fx.proxyPort,
      [
        `GET http://api.example.com:${ws.port}/reject HTTP/1.1`,
        `Host: api.example.com:${ws.port}`,
        `Proxy-Authorization: Basic ${Buffer.from(fx.userinfo).toString('base64')}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        `Authorization: Bearer ${fx.secrets.exact.placeholder}`,
        '',
        '',
      ].join('\r\n'),
      () => {},
      () => false,
    );
    const text = data.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).toContain(`invalid credentials: Bearer ${fx.secrets.exact.placeholder}`);
    expect(text).not.toContain(VALUES.exact);
  });

  it('asks for proxy credentials (407) before relaying anything', async () => {
    const before = ws.handshakes.length;
    const data = await rawExchange(
      fx.proxyPort,
      `GET http://api.example.com:${ws.port}/ HTTP/1.1\r\nHost: api.example.com:${ws.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
      () => {},
      () => false,
    );
    expect(data.toString('latin1')).toMatch(/^HTTP\/1\.1 407 /);
    expect(data.toString('latin1')).toMatch(/proxy-authenticate: Basic realm="veil"/i);
    expect(ws.handshakes.length).toBe(before);
  });

  it('answers 502 when the upstream refuses the connection', async () => {
    const port = await deadPort();
    const data = await rawExchange(
      fx.proxyPort,
      `GET http://api.example.com:${port}/ HTTP/1.1\r\nHost: api.example.com:${port}\r\nProxy-Authorization: Basic ${Buffer.from(fx.userinfo).toString('base64')}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      () => {},
      () => false,
    );
    expect(data.toString('latin1')).toMatch(/^HTTP\/1\.1 502 /);
    expect(data.toString('latin1')).toContain('upstream connection refused');
  });
});
