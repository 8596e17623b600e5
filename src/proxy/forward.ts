import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { normalizeDestinationHost } from '../hosts/hosts.js';
import { rewriteRequestHead } from '../substitution/head.js';
import { hostForUrl, hostHeaderHost, parseAbsoluteTarget } from './destination.js';
import type { Engine, TunnelContext } from './engine.js';
import { countHeader, rawHeaderValue, stripHopByHop } from './hop-by-hop.js';
import { identify, lookupKnown, type Identity } from './identify.js';
import { replyError, replyProxyAuthRequired } from './replies.js';
import { classifyUpstreamError } from './upstream-errors.js';

interface RequestPlan {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  identity: Promise<Identity>;
}

const NOT_A_PROXY_REQUEST =
  'this is an egress proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port';

function uniqueNames(items: readonly { name: string }[]): string {
  return [...new Set(items.map((item) => item.name))].join(', ');
}

/** `NAME (header), OTHER (url)`: which secret, and where it was found. */
function namesWithPlace(items: readonly { name: string; where: string }[]): string {
  return [...new Set(items.map((item) => `${item.name} (${item.where})`))].join(', ');
}

/** Where the request goes and who sent it; replies itself and returns null when it cannot proceed. */
function planRequest(engine: Engine, req: IncomingMessage, res: ServerResponse): RequestPlan | null {
  const url = req.url ?? '';
  const tunnel: TunnelContext | undefined = engine.tunnels.get(req.socket);
  if (tunnel) {
    const servername = (req.socket as TLSSocket).servername;
    if (typeof servername === 'string' && servername !== '' && normalizeDestinationHost(servername) !== tunnel.host) {
      replyError(res, 421, `TLS server name ${servername} does not match the CONNECT host ${tunnel.host}`);
      return null;
    }
    let path = url;
    if (!url.startsWith('/')) {
      const absolute = parseAbsoluteTarget(url, 'https');
      if (!absolute || absolute.host !== tunnel.host) {
        replyError(res, 421, `request target does not match the CONNECT host ${tunnel.host}`);
        return null;
      }
      path = absolute.path;
    }
    return {
      scheme: 'https',
      host: tunnel.host,
      port: tunnel.port,
      path,
      identity: lookupKnown(engine, tunnel.sandboxId, null),
    };
  }
  if (url.startsWith('/') || url === '*') {
    replyError(res, 400, NOT_A_PROXY_REQUEST);
    return null;
  }
  const absolute = parseAbsoluteTarget(url, 'http');
  if (!absolute) {
    replyError(res, 400, 'request target must be an absolute http:// URL without userinfo (use CONNECT for https)');
    return null;
  }
  return { scheme: 'http', host: absolute.host, port: absolute.port, path: absolute.path, identity: identify(engine, req.headers) };
}

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/** Handles one request, plain (absolute-form on the proxy port) or decrypted from a CONNECT tunnel. */
export async function handleRequest(engine: Engine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  engine.inflight.count += 1;
  res.once('close', () => {
    engine.inflight.count -= 1;
  });
  req.on('error', () => {});
  res.on('error', () => {});

  const plan = planRequest(engine, req, res);
  if (!plan) return;

  if (countHeader(req.rawHeaders, 'host') > 1) {
    // Two Host headers could route differently at the upstream than the one we checked.
    replyError(res, 400, 'more than one Host header');
    return;
  }
  const hostHeader = rawHeaderValue(req.rawHeaders, 'host');
  if (hostHeader !== undefined && hostHeaderHost(hostHeader) !== plan.host) {
    replyError(res, 421, `Host header does not match the destination host ${plan.host}`);
    return;
  }

  const identity = await plan.identity;
  if (res.destroyed) return; // the client left while we looked the sandbox up
  if (!identity.ok) {
    if (identity.status === 407) replyProxyAuthRequired(res);
    else replyError(res, identity.status, identity.message);
    return;
  }

  const rewritten = rewriteRequestHead({
    compiled: identity.mapping.compiled,
    host: plan.host,
    target: plan.path,
    rawHeaders: stripHopByHop(req.rawHeaders),
    allowUnrestricted: engine.allowUnrestricted,
  });
  const log = { sandboxId: identity.sandboxId, method: req.method, host: plan.host, port: plan.port, scheme: plan.scheme };
  if (rewritten.unsafe.length > 0) {
    const names = namesWithPlace(rewritten.unsafe);
    engine.logger.warn({ ...log, secrets: names }, 'refused: secret value unsafe for a header or URL');
    replyError(res, 400, `secret ${names}: its value cannot be placed there safely (control characters such as CR, LF or NUL); request refused`);
    return;
  }
  if (rewritten.disallowed.length > 0) {
    const names = namesWithPlace(rewritten.disallowed);
    if (engine.disallowed === 'block') {
      engine.logger.warn({ ...log, secrets: names }, 'blocked: placeholder sent to a host not on its allowlist');
      replyError(res, 403, `secret ${names} may not be sent to host ${plan.host} (not on its allowlist, or that location is not enabled); request blocked`);
      return;
    }
    engine.logger.info({ ...log, secrets: names }, 'placeholder forwarded unchanged: host not on its allowlist');
  }

  forwardUpstream(engine, req, res, {
    origin: `${plan.scheme}://${hostForUrl(plan.host)}:${plan.port}`,
    path: rewritten.target,
    rawHeaders: rewritten.rawHeaders,
    log: { ...log, substituted: uniqueNames(rewritten.substituted) },
  });
}

interface Forward {
  origin: string;
  path: string;
  rawHeaders: string[];
  log: Record<string, unknown>;
}

/** Sends the request upstream with undici and streams the answer back, with backpressure both ways. */
function forwardUpstream(engine: Engine, req: IncomingMessage, res: ServerResponse, forward: Forward): void {
  let abortUpstream: ((reason?: Error) => void) | null = null;
  let finished = false;
  // A client that goes away aborts the upstream request.
  res.once('close', () => {
    if (!finished) abortUpstream?.(new Error('client closed the connection'));
  });

  const handler: Dispatcher.DispatchHandler = {
    onConnect(abort) {
      abortUpstream = abort;
      if (res.destroyed) abort(new Error('client closed the connection'));
    },
    onHeaders(statusCode, rawHeaders, resume, statusMessage) {
      const headers: string[] = [];
      for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
        headers.push(rawHeaders[index]!.toString('latin1'), rawHeaders[index + 1]!.toString('latin1'));
      }
      try {
        res.writeHead(statusCode, statusMessage || undefined, stripHopByHop(headers));
      } catch {
        // A header Node refuses to write (invalid characters from the upstream): answer 502 instead.
        finished = true;
        abortUpstream?.(new Error('invalid upstream response head'));
        replyError(res, 502, 'upstream sent a response head that cannot be relayed');
        return false;
      }
      res.on('drain', () => resume());
      return true;
    },
    onData(chunk) {
      return res.write(chunk);
    },
    onComplete() {
      finished = true;
      engine.logger.info({ ...forward.log, status: res.statusCode }, 'proxied');
      res.end();
    },
    onError(error) {
      finished = true;
      if (res.headersSent) {
        engine.logger.warn({ ...forward.log, status: res.statusCode, reason: classifyUpstreamError(error).reason }, 'upstream failed mid-response');
        res.destroy();
        return;
      }
      if (res.destroyed) return;
      const failure = classifyUpstreamError(error);
      engine.logger.warn({ ...forward.log, status: failure.status, reason: failure.reason }, 'upstream failed');
      replyError(res, failure.status, failure.reason);
    },
  } as Dispatcher.DispatchHandler;

  engine.agent.dispatch(
    {
      origin: forward.origin,
      path: forward.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: forward.rawHeaders,
      body: hasBody(req) ? req : null,
    },
    handler,
  );
}
