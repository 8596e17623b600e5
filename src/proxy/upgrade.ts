/**
 * `Upgrade` requests (WebSocket and others), plain or inside a CONNECT tunnel: the head gets the same
 * admission and header/URL substitution as any request, then goes upstream with node:http(s) (TLS
 * verified like every upstream, pinned names honoured).
 * - 101: the answer's head is relayed (scrubbed when a value went upstream), then bytes flow both
 *   ways with backpressure until either side closes. Frames are relayed as they are: no frame-level
 *   substitution or scrubbing.
 * - any other answer (the upstream declined: 401, 400...): relayed like an ordinary response,
 *   head and body scrubbed when a value went upstream, then the client connection is closed.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { admitRequest, uniqueNames } from './admit.js';
import type { Engine } from './engine.js';
import { rawHeaderValue, stripHopByHop, withoutHeader } from './hop-by-hop.js';
import { replyOnSocket } from './replies.js';
import { planResponseScrub, scrubHeaders, scrubNeedles, scrubStatusMessage } from './scrub.js';
import { classifyUpstreamError } from './upstream-errors.js';

function headText(statusCode: number, statusMessage: string, rawHeaders: readonly string[]): Buffer {
  const lines = [`HTTP/1.1 ${statusCode} ${statusMessage}`];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) lines.push(`${rawHeaders[index]}: ${rawHeaders[index + 1]}`);
  lines.push('', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

export async function handleUpgrade(engine: Engine, req: IncomingMessage, socket: Duplex, clientHead: Buffer): Promise<void> {
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
  const protocol = rawHeaderValue(req.rawHeaders, 'upgrade') ?? '';
  const log = { ...admitted.log, upgrade: protocol, substituted: uniqueNames(admitted.substituted) };
  const needles = scrubNeedles(admitted.substituted);

  const headers = [...admitted.rawHeaders, 'Connection', 'Upgrade', 'Upgrade', protocol];
  const options = {
    host: admitted.host,
    port: admitted.port,
    method: req.method ?? 'GET',
    path: admitted.path,
    headers,
    setHost: rawHeaderValue(headers, 'host') === undefined,
    agent: false as const,
    lookup: engine.lookup,
    timeout: engine.timeouts.upstreamConnectMs,
  };
  // With `agent: false` https.request hands these to tls.connect, which takes `secureContext` (its
  // RequestOptions type does not list it): the shared trust store, verification on.
  const tlsRequestOptions: RequestOptions & Pick<ConnectionOptions, 'secureContext'> = {
    ...options,
    secureContext: engine.upstreamTls,
    rejectUnauthorized: true,
    ...(isIP(admitted.host) === 0 ? { servername: admitted.host } : {}),
  };
  const upstreamRequest =
    admitted.scheme === 'https'
      ? httpsRequest(tlsRequestOptions)
      : httpRequest(options);
  let answered = false;
  const abandon = () => upstreamRequest.destroy();
  client.once('close', abandon);

  upstreamRequest.on('timeout', () => upstreamRequest.destroy(Object.assign(new Error('upstream did not answer in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
  upstreamRequest.on('error', (error) => {
    const failure = classifyUpstreamError(error);
    engine.logger.warn({ ...log, status: failure.status, reason: failure.reason }, 'upgrade: upstream failed');
    if (!answered && !client.destroyed) replyOnSocket(client, failure.status, failure.reason);
    else client.destroy();
  });

  upstreamRequest.on('upgrade', (response: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    answered = true;
    engine.detachedSockets.add(upstream);
    upstream.once('close', () => engine.detachedSockets.delete(upstream));
    upstream.on('error', (error) => {
      engine.logger.info({ ...log, err: error.message }, 'upgraded connection: upstream error');
      client.destroy();
    });
    upstream.setTimeout(0);
    engine.logger.info({ ...log, status: response.statusCode }, 'upgrade relayed');
    const responseHeaders = needles ? scrubHeaders(response.rawHeaders, needles) : response.rawHeaders;
    const statusMessage = response.statusMessage ?? 'Switching Protocols';
    client.write(headText(response.statusCode ?? 101, needles ? scrubStatusMessage(statusMessage, needles, 'latin1') : statusMessage, responseHeaders));
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (clientHead.length > 0) upstream.write(clientHead);
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    for (const side of [client, upstream]) {
      side.setTimeout(engine.timeouts.tunnelIdleMs, () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    client.pipe(upstream);
  });

  // The upstream declined to upgrade: an ordinary response, relayed (and scrubbed), then the connection closes.
  upstreamRequest.on('response', (response: IncomingMessage) => {
    answered = true;
    response.on('error', () => client.destroy());
    const bodyless = req.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304;
    let responseHeaders = stripHopByHop(response.rawHeaders);
    let body = null;
    let statusMessage = response.statusMessage ?? '';
    if (needles) {
      const plan = planResponseScrub({ rawHeaders: responseHeaders, needles, hasBody: !bodyless });
      if (plan.unscrubbable) {
        response.destroy();
        replyOnSocket(client, 502, 'the upstream answered in a Content-Encoding Veil cannot decode, so it cannot be checked for secret values');
        return;
      }
      responseHeaders = plan.rawHeaders;
      body = plan.body;
      statusMessage = scrubStatusMessage(statusMessage, needles, 'latin1');
    }
    // The body ends where the connection does.
    responseHeaders = [...withoutHeader(responseHeaders, 'connection'), 'Connection', 'close'];
    engine.logger.info({ ...log, status: response.statusCode, ...(needles ? { scrubbed: true } : {}) }, 'upgrade declined by upstream: response relayed');
    client.write(headText(response.statusCode ?? 502, statusMessage, responseHeaders));
    const stages = body ? [response, body, client] : [response, client];
    pipeline(stages as unknown as [IncomingMessage, Socket]).catch((error: unknown) => {
      engine.logger.warn({ ...log, reason: (error as Error).message.slice(0, 200) }, 'upgrade: declined response could not be relayed');
      client.destroy();
    });
  });

  upstreamRequest.end();
}
