/**
 * `Upgrade` requests (WebSocket and others), plain or inside a CONNECT tunnel: the head gets the same
 * admission and header/URL substitution as any request, then it is written to a raw upstream
 * connection (TLS verified like every upstream) and bytes are relayed both ways with backpressure.
 * The upstream's response head is scrubbed when a value was substituted; frames are relayed as they
 * are (no frame-level substitution or scrubbing).
 */
import type { IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { admitRequest, uniqueNames } from './admit.js';
import type { Engine } from './engine.js';
import { rawHeaderValue } from './hop-by-hop.js';
import { replyOnSocket } from './replies.js';
import { scrubHead } from './scrub.js';
import { pinnedLookup } from './upstream-agent.js';
import { classifyUpstreamError } from './upstream-errors.js';

/** Longest upstream response head we read before relaying (larger heads are refused with 502). */
const MAX_RESPONSE_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

export async function handleUpgrade(engine: Engine, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const client = socket as Socket;
  engine.detachedSockets.add(client);
  client.once('close', () => engine.detachedSockets.delete(client));
  client.on('error', (error) => engine.logger.debug({ err: error.message }, 'client socket error (upgrade)'));

  const admitted = await admitRequest(engine, req);
  if (client.destroyed) return;
  if (!admitted.ok) {
    replyOnSocket(client, admitted.status, admitted.message, Object.entries(admitted.headers ?? {}).map(([name, value]) => `${name}: ${value}`));
    return;
  }
  const log = { ...admitted.log, upgrade: rawHeaderValue(req.rawHeaders, 'upgrade'), substituted: uniqueNames(admitted.substituted) };

  const lines = [`${req.method ?? 'GET'} ${admitted.path} HTTP/1.1`];
  for (let index = 0; index + 1 < admitted.rawHeaders.length; index += 2) {
    lines.push(`${admitted.rawHeaders[index]}: ${admitted.rawHeaders[index + 1]}`);
  }
  lines.push('Connection: Upgrade', `Upgrade: ${rawHeaderValue(req.rawHeaders, 'upgrade') ?? ''}`, '', '');
  const requestHead = Buffer.from(lines.join('\r\n'), 'latin1');

  const lookup = pinnedLookup(engine.pins);
  const upstream: Socket =
    admitted.scheme === 'https'
      ? tlsConnect({
          host: admitted.host,
          port: admitted.port,
          ...(isIP(admitted.host) === 0 ? { servername: admitted.host } : {}),
          ca: engine.upstreamCa,
          rejectUnauthorized: true,
          ALPNProtocols: ['http/1.1'],
          lookup,
        })
      : netConnect({ host: admitted.host, port: admitted.port, lookup });
  upstream.setNoDelay(true);
  engine.detachedSockets.add(upstream);
  let relaying = false;
  let responded = false;

  const connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), engine.timeouts.upstreamConnectMs);
  upstream.once(admitted.scheme === 'https' ? 'secureConnect' : 'connect', () => {
    clearTimeout(connectTimer);
    upstream.write(requestHead);
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
  });
  upstream.on('error', (error) => {
    clearTimeout(connectTimer);
    const failure = classifyUpstreamError(error);
    engine.logger.warn({ ...log, reason: failure.reason }, responded ? 'upgraded connection: upstream error' : 'upgrade: upstream failed');
    if (!responded && !client.destroyed) {
      client.unpipe(upstream);
      replyOnSocket(client, failure.status, failure.reason);
    } else {
      client.destroy();
    }
  });
  upstream.once('close', () => {
    clearTimeout(connectTimer);
    engine.detachedSockets.delete(upstream);
    if (relaying || responded) client.end();
    else if (!client.destroyed && !client.writableEnded) replyOnSocket(client, 502, 'upstream closed the connection');
  });
  client.once('close', () => upstream.destroy());
  for (const side of [client, upstream]) {
    side.setTimeout(engine.timeouts.tunnelIdleMs, () => {
      client.destroy();
      upstream.destroy();
    });
  }

  // Read the upstream's response head, scrub it, then relay everything raw.
  let pending: Buffer = Buffer.alloc(0);
  const onHeadData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const end = pending.indexOf(HEAD_END);
    if (end === -1) {
      if (pending.length > MAX_RESPONSE_HEAD) {
        upstream.off('data', onHeadData);
        upstream.destroy();
        client.unpipe(upstream);
        replyOnSocket(client, 502, 'upstream sent a response head that is too large');
      }
      return;
    }
    upstream.off('data', onHeadData);
    responded = true;
    const headText = pending.toString('latin1', 0, end + HEAD_END.length);
    const rest = pending.subarray(end + HEAD_END.length);
    const statusLine = headText.slice(0, headText.indexOf('\r\n'));
    engine.logger.info({ ...log, status: Number(statusLine.split(' ')[1]) || undefined }, 'upgrade relayed');
    client.write(Buffer.from(scrubHead(headText, admitted.substituted), 'latin1'));
    if (rest.length > 0) client.write(rest);
    relaying = true;
    upstream.pipe(client);
  };
  upstream.on('data', onHeadData);
}
