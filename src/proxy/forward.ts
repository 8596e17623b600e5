import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResolvedSecret } from '../resolver/types.js';
import type { Dispatcher } from 'undici';
import { admitRequest, uniqueNames } from './admit.js';
import { hostForUrl } from './destination.js';
import type { Engine } from './engine.js';
import { rawHeaderValue, stripHopByHop, withoutHeader } from './hop-by-hop.js';
import { replyError } from './replies.js';
import { createScrubStream, responseDecoder, scrubHeaders, scrubMatcher } from './scrub.js';
import { classifyUpstreamError } from './upstream-errors.js';

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

  const admitted = await admitRequest(engine, req);
  if (res.destroyed) return; // the client left while we looked the sandbox up
  if (!admitted.ok) {
    replyError(res, admitted.status, admitted.message, admitted.headers);
    return;
  }

  const scrub = admitted.substituted;
  forwardUpstream(engine, req, res, {
    origin: `${admitted.scheme}://${hostForUrl(admitted.host)}:${admitted.port}`,
    path: admitted.path,
    // Ask for an identity response when a value went upstream, so it can be scrubbed as it streams.
    rawHeaders: scrub.length > 0 ? withoutHeader(admitted.rawHeaders, 'accept-encoding') : admitted.rawHeaders,
    body: hasBody(req) ? req : null,
    scrub,
    log: { ...admitted.log, substituted: uniqueNames(admitted.substituted) },
  });
}

interface Forward {
  origin: string;
  path: string;
  rawHeaders: string[];
  /** The body to send (the client's request, or its rewritten form), or null. */
  body: Readable | null;
  /** Secrets whose value may have gone upstream: the response is scrubbed for them. */
  scrub: readonly ResolvedSecret[];
  log: Record<string, unknown>;
}

/** Statuses (and HEAD) whose response never has a body. */
function bodyless(method: string | undefined, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Sends the request upstream with undici and streams the answer back, with backpressure both ways.
 * When `scrub` is not empty the response head and body are scrubbed (see scrub.ts): Content-Length
 * is dropped (the body goes chunked) and a gzip/deflate/br body is decoded first.
 */
function forwardUpstream(engine: Engine, req: IncomingMessage, res: ServerResponse, forward: Forward): void {
  let abortUpstream: ((reason?: Error) => void) | null = null;
  let finished = false;
  // A client that goes away aborts the upstream request.
  res.once('close', () => {
    if (!finished) abortUpstream?.(new Error('client closed the connection'));
    forward.body?.destroy();
  });
  const matcher = forward.scrub.length > 0 ? scrubMatcher(forward.scrub) : null;
  /** Where body bytes go: `res` itself, or the first stage of the scrubbing pipeline. */
  let sink: Writable = res;
  let sinkDone: Promise<void> | null = null;

  const handler: Dispatcher.DispatchHandler = {
    onConnect(abort) {
      abortUpstream = abort;
      if (res.destroyed) abort(new Error('client closed the connection'));
    },
    onHeaders(statusCode, rawHeaders, resume, statusMessage) {
      let headers: string[] = [];
      for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
        headers.push(rawHeaders[index]!.toString('latin1'), rawHeaders[index + 1]!.toString('latin1'));
      }
      headers = stripHopByHop(headers);
      if (matcher) {
        headers = scrubHeaders(headers, matcher);
        if (!bodyless(req.method, statusCode)) {
          const decoder = responseDecoder(rawHeaderValue(headers, 'content-encoding'));
          headers = headers.filter((_, index) => {
            const name = headers[index - (index % 2)]!.toLowerCase();
            return name !== 'content-length' && !(decoder && name === 'content-encoding');
          });
          const stages: (Readable | Writable)[] = [...(decoder ? [decoder] : []), createScrubStream(matcher), res];
          sink = stages[0] as Writable;
          sinkDone = pipeline(stages as unknown as [Readable, Writable]).catch((error: unknown) => {
            engine.logger.warn({ ...forward.log, reason: (error as Error).message.slice(0, 200) }, 'response could not be scrubbed (decode failed or client left)');
            abortUpstream?.(new Error('response scrubbing failed'));
            res.destroy();
          });
        }
      }
      try {
        res.writeHead(statusCode, statusMessage || undefined, headers);
      } catch {
        // A header Node refuses to write (invalid characters from the upstream): answer 502 instead.
        finished = true;
        abortUpstream?.(new Error('invalid upstream response head'));
        replyError(res, 502, 'upstream sent a response head that cannot be relayed');
        return false;
      }
      sink.on('drain', () => resume());
      return true;
    },
    onData(chunk) {
      return sink.write(chunk);
    },
    onComplete() {
      finished = true;
      engine.logger.info({ ...forward.log, status: res.statusCode, ...(matcher ? { scrubbed: true } : {}) }, 'proxied');
      sink.end();
      void sinkDone;
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
      body: forward.body,
    },
    handler,
  );
}
