import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import type { ResolvedSecret } from '../resolver/types.js';
import { parseContentLength, rewriteRequestBody, type BodyRewrite } from '../substitution/body.js';
import { isZlibError } from '../substitution/codecs.js';
import { BodyTooLargeError, DisallowedPlaceholderError } from '../substitution/errors.js';
import { VeilError } from '../errors.js';
import { admitRequest, disallowedPlaceholders, namesWithPlace, uniqueNames, type Admitted } from './admit.js';
import type { Engine } from './engine.js';
import type { Logger } from '../log/logger.js';
import { stripHopByHop, withoutHeader } from './hop-by-hop.js';
import { relayInformational } from './informational.js';
import { replyError } from './replies.js';
import { planResponseScrub, scrubNeedles } from './scrub.js';
import { classifyUpstreamError, findCause } from './upstream-errors.js';
import { ReplacedCollector, type Replacer } from '../substitution/stream-replace.js';

function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return typeof expect === 'string' && expect.toLowerCase() === '100-continue';
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

  const admitted = await admitRequest(engine, req);
  if (res.destroyed) return; // the client left while we looked the sandbox up
  if (!admitted.ok) {
    replyError(res, admitted.status, admitted.message, admitted.headers);
    return;
  }

  // Requests with `Expect: 100-continue` reach us through 'checkContinue' (server.ts): the client
  // sends its body only after `100 Continue`, which is sent once the body is accepted, so a refused
  // request (407, 403, 413...) is answered before a byte of its body is on the wire.
  let continued = !expectsContinue(req);
  const sendContinue = () => {
    if (continued) return;
    continued = true;
    res.writeContinue();
  };
  let body: Readable | null = hasBody(req) ? req : null;
  let buffer: Buffer | null = null;
  let rawHeaders = admitted.rawHeaders;
  let scrub: ResolvedSecret[] = admitted.substituted;
  let bodyLog: Record<string, unknown> = {};
  let chunked = false;
  if (body) {
    const prepared = await prepareBody(engine, req, res, admitted, sendContinue);
    if (!prepared) return;
    body = prepared.body;
    buffer = prepared.buffer;
    rawHeaders = prepared.rawHeaders;
    if (prepared.scrub.length > 0) scrub = [...new Set([...scrub, ...prepared.scrub])];
    bodyLog = prepared.log;
    chunked = prepared.chunked;
  }

  sendContinue(); // a body that goes through untouched is read by undici from here on
  /** Log fields of this request: `base` plus what was substituted (built only when a line is written). */
  const fieldsWith = (base: Record<string, unknown>) => ({ ...base, substituted: uniqueNames(admitted.substituted), ...bodyLog });
  let logFields: Record<string, unknown> | null = null;
  forwardUpstream(engine, req, res, {
    origin: admitted.origin,
    path: admitted.path,
    // Ask for an identity response when a value may go upstream, so it can be scrubbed as it streams.
    rawHeaders: scrub.length > 0 ? withoutHeader(rawHeaders, 'accept-encoding') : rawHeaders,
    body,
    buffer,
    chunked,
    scrub,
    log: () => (logFields ??= fieldsWith(admitted.log)),
    access: { logger: admitted.access.logger, fields: () => fieldsWith(admitted.access.fields) },
  });
}

interface PreparedBody {
  /** null when `buffer` holds the body. */
  body: Readable | null;
  /** The whole rewritten body, when it was buffered in memory: sent as it is. */
  buffer: Buffer | null;
  rawHeaders: string[];
  /** Secrets whose value may be in the body (scrub the response for them). */
  scrub: readonly ResolvedSecret[];
  /** A streamed rewrite of a chunked body: must go upstream chunked. */
  chunked: boolean;
  log: Record<string, unknown>;
}

/**
 * Body substitution (src/substitution/body.ts): untouched when no secret may go into this host's
 * bodies; streamed when chunked; buffered (memory, then a temp file) when it has a Content-Length.
 * Replies itself and returns null when the request cannot go on (413, 400, 403, client gone).
 */
async function prepareBody(engine: Engine, req: IncomingMessage, res: ServerResponse, admitted: Admitted, beforeRead: () => void): Promise<PreparedBody | null> {
  // Transfer-Encoding is hop-by-hop (stripped from admitted.rawHeaders): say explicitly that the body is streamed.
  const chunked = req.headers['transfer-encoding'] !== undefined;
  // No abort signal: a client that goes away destroys `req`, which fails the read (premature close)
  // on both the in-memory and the stream path (the temp file is removed then).
  let reading = false;
  let rewrite: BodyRewrite;
  try {
    rewrite = await rewriteRequestBody(req, {
      compiled: admitted.mapping.compiled,
      host: admitted.host,
      allowUnrestricted: engine.allowUnrestricted,
      rawHeaders: admitted.rawHeaders,
      chunked,
      memoryLimit: engine.body.memoryLimit,
      hardCap: engine.body.hardCap,
      ...(engine.body.tmpDir !== undefined ? { tmpDir: engine.body.tmpDir } : {}),
      beforeRead: () => {
        reading = true;
        beforeRead();
      },
      // Block mode for streamed (chunked) bodies, which cannot be checked before they are forwarded:
      // the rewrite fails at a disallowed placeholder and the chunk carrying it is never sent; the
      // upstream sees an aborted, incomplete request and the client gets 403 (or a cut connection
      // when the upstream had already answered). See onError in forwardUpstream.
      blockDisallowed: engine.disallowed === 'block',
    });
  } catch (error) {
    if (res.destroyed) return null;
    // Typed body errors carry their status: 413 too large, 400 does not decode, 500 spill failed.
    if (error instanceof VeilError) {
      engine.logger.warn({ ...admitted.log, status: error.statusCode, reason: error.message }, 'request body refused');
      if (error instanceof BodyTooLargeError && !reading) {
        // Refused on its declared size before a byte was read. Closing now would reset the connection
        // under a client still sending its body, which may then never read the 413: answer, let
        // node:http read the rest off the wire (it does for an unread body), cut a client that keeps
        // sending past LINGER_MS. A client that sent `Expect: 100-continue` sent no body; node closes.
        replyError(res, error.statusCode, error.message);
        cutIfStillSending(req, LINGER_MS);
        return null;
      }
      replyError(res, error.statusCode, error.message, { connection: 'close' });
      return null;
    }
    engine.logger.warn({ ...admitted.log, reason: (error as Error).message.slice(0, 200) }, 'request body could not be read');
    replyError(res, 400, 'request body could not be read', { connection: 'close' });
    return null;
  }
  if (res.destroyed) {
    rewrite.dispose();
    return null;
  }
  const log: Record<string, unknown> = rewrite.mode === 'passthrough' ? {} : { body: rewrite.mode, ...(rewrite.spilled ? { spilled: true } : {}) };
  const rawHeaders = rewrite.rawHeaders;
  if (rewrite.mode === 'buffered') {
    if (rewrite.disallowed.length > 0) {
      const refusal = disallowedPlaceholders(engine, admitted.log, rewrite.disallowed, admitted.host);
      if (refusal) {
        rewrite.dispose();
        replyError(res, refusal.status, refusal.message);
        return null;
      }
    }
    const bodyLog = { ...log, bodySubstituted: uniqueNames(rewrite.substituted) };
    if (rewrite.buffer !== null) return { body: null, buffer: rewrite.buffer, rawHeaders, scrub: rewrite.substituted, chunked: false, log: bodyLog };
    res.once('close', () => rewrite.dispose());
    return { body: rewrite.body, buffer: null, rawHeaders, scrub: rewrite.substituted, chunked: false, log: bodyLog };
  }
  if (rewrite.mode === 'streaming') {
    res.once('close', () => rewrite.dispose());
    if (engine.disallowed !== 'block') {
      rewrite.body.once('end', () => {
        if (rewrite.disallowed.length > 0) disallowedPlaceholders(engine, admitted.log, rewrite.disallowed, admitted.host);
      });
    }
    return { body: rewrite.body, buffer: null, rawHeaders, scrub: rewrite.candidates, chunked: true, log };
  }
  return { body: rewrite.body, buffer: null, rawHeaders, scrub: [], chunked: false, log };
}

/** How long a refused request's body may still be read off the wire after the answer (see prepareBody). */
const LINGER_MS = 5_000;

/** Destroys the connection when the request body has not ended `ms` after the response was sent. */
function cutIfStillSending(req: IncomingMessage, ms: number): void {
  const socket = req.socket;
  const timer = setTimeout(() => {
    if (!req.complete) socket.destroy();
  }, ms);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
}

/** An async iterable over a stream: undici sends it chunked whatever it already knows of its length. */
async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  yield* body as AsyncIterable<Buffer>;
}

interface Forward {
  origin: string;
  path: string;
  rawHeaders: string[];
  /** The body to send (the client's request, or its rewritten form), or null. */
  body: Readable | null;
  /** Or the whole body in memory (buffered rewrite). */
  buffer: Buffer | null;
  /** Send the body chunked even if it has already ended (undici would give it a Content-Length). */
  chunked: boolean;
  /** Secrets whose value may have gone upstream: the response is scrubbed for them. */
  scrub: readonly ResolvedSecret[];
  /** This request's log fields (for warnings). */
  log: () => Record<string, unknown>;
  /** Where the access line goes, and its fields without those the logger already binds. */
  access: { logger: Logger; fields: () => Record<string, unknown> };
}

/** Statuses (and HEAD) whose response never has a body. */
function bodyless(method: string | undefined, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

const isBlocked = (candidate: object): candidate is DisallowedPlaceholderError => candidate instanceof DisallowedPlaceholderError;

/**
 * A scrubbed identity response that announces at most this many bytes is held until complete and
 * sent with its exact new Content-Length (one write, a length the client can check, and a clean 502
 * if the upstream fails mid-body); longer ones stream chunked.
 */
const HOLD_RESPONSE_MAX = 64 * 1024;

/** The Content-Length an upstream announced, or null (absent, repeated differently, malformed). */
function declaredLength(rawHeaders: readonly string[]): number | null {
  let length: number | null = null;
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.length !== 14 || rawHeaders[index]!.toLowerCase() !== 'content-length') continue;
    const value = parseContentLength(rawHeaders[index + 1]);
    if (value === null || (length !== null && length !== value)) return null;
    length = value;
  }
  return length;
}

/**
 * Sends the request upstream with undici and streams the answer back, with backpressure both ways.
 * When `scrub` is not empty the response head and body are scrubbed (see scrub.ts): a small identity
 * body is held and sent with its new exact Content-Length; otherwise Content-Length is dropped (the
 * body goes chunked) and a gzip/deflate/br body is decoded first; a body in an unknown
 * Content-Encoding cannot be scrubbed and is refused (502).
 */
function forwardUpstream(engine: Engine, req: IncomingMessage, res: ServerResponse, forward: Forward): void {
  let abortUpstream: ((reason?: Error) => void) | null = null;
  let finished = false;
  // A client that goes away aborts the upstream request.
  res.once('close', () => {
    if (!finished) abortUpstream?.(new Error('client closed the connection'));
    if (forward.body !== req) forward.body?.destroy();
  });
  const needles = scrubNeedles(forward.scrub);
  /** Where body bytes go: `res` itself, or the first stage of the scrubbing pipeline. */
  let sink: Writable = res;
  /** An identity body scrubbed in place: every chunk goes through it on its way to `res`. */
  let inline: Replacer | null = null;
  /** The proxy already answered the client itself (a response it refused to relay). */
  let answered = false;
  let resumeUpstream: (() => void) | null = null;
  let waitingForDrain = false;
  /** A small scrubbed response held until complete (see HOLD_RESPONSE_MAX). */
  let held: { statusCode: number; statusMessage: string; headers: string[]; body: ReplacedCollector } | null = null;

  /** Writes the response head; false (and a 502 sent) when Node refuses a header from the upstream. */
  const sendHead = (statusCode: number, statusMessage: string, headers: string[]): boolean => {
    try {
      res.writeHead(statusCode, statusMessage || undefined, headers);
      return true;
    } catch {
      // Invalid characters from the upstream: answer 502 instead.
      finished = true;
      answered = true;
      replyError(res, 502, 'upstream sent a response head that cannot be relayed');
      abortUpstream?.(new Error('invalid upstream response head'));
      return false;
    }
  };

  const logAccess = () => {
    if (forward.access.logger.isLevelEnabled('info')) {
      forward.access.logger.info({ ...forward.access.fields(), status: res.statusCode, ...(needles ? { scrubbed: true } : {}) }, 'proxied');
    }
  };

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
      if (statusCode < 200) {
        // An informational answer (103 Early Hints, 102 Processing): relayed or dropped, the final one follows.
        const outcome = relayInformational(req, res, statusCode, headers, needles);
        engine.logger.debug({ ...forward.log(), status: statusCode, outcome }, 'upstream sent an informational (1xx) answer');
        return true;
      }
      if (needles) {
        const plan = planResponseScrub({ rawHeaders: headers, statusMessage, needles, hasBody: !bodyless(req.method, statusCode), inline: true });
        statusMessage = plan.statusMessage;
        if (plan.unscrubbable) {
          finished = true;
          answered = true;
          engine.logger.warn({ ...forward.log(), status: 502 }, 'response in an unknown Content-Encoding cannot be scrubbed: refused');
          replyError(res, 502, 'the upstream answered in a Content-Encoding Veil cannot decode, so it cannot be checked for secret values');
          abortUpstream?.(new Error('unscrubbable response'));
          return false;
        }
        if (plan.inline) {
          const length = declaredLength(headers);
          if (length !== null && length <= HOLD_RESPONSE_MAX) {
            held = { statusCode, statusMessage, headers: plan.rawHeaders, body: new ReplacedCollector(plan.inline) };
            resumeUpstream = resume;
            return true;
          }
          inline = plan.inline;
        }
        headers = plan.rawHeaders;
        if (plan.body) {
          sink = plan.body;
          pipeline(plan.body, res).catch((error: unknown) => {
            engine.logger.warn({ ...forward.log(), reason: (error as Error).message.slice(0, 200) }, 'response could not be scrubbed (decode failed or client left)');
            abortUpstream?.(new Error('response scrubbing failed'));
            res.destroy();
          });
        }
      }
      if (!sendHead(statusCode, statusMessage, headers)) return false;
      resumeUpstream = resume;
      return true;
    },
    onData(chunk) {
      if (held) {
        held.body.push(chunk);
        return true;
      }
      let more: boolean;
      if (inline) {
        const out = inline.push(chunk);
        more = out === null ? !res.writableNeedDrain : res.write(out);
      } else {
        more = sink.write(chunk);
      }
      // undici pauses on false; the client side's drain resumes it (listener added only when needed).
      if (!more && !waitingForDrain) {
        waitingForDrain = true;
        sink.once('drain', () => {
          waitingForDrain = false;
          resumeUpstream?.();
        });
      }
      return more;
    },
    onComplete() {
      finished = true;
      if (held) {
        const body = held.body.finish();
        if (!sendHead(held.statusCode, held.statusMessage, [...held.headers, 'Content-Length', String(body.length)])) return;
        logAccess();
        res.end(body);
        return;
      }
      logAccess();
      if (inline) {
        const rest = inline.end();
        if (rest !== null) res.end(rest);
        else res.end();
        return;
      }
      sink.end();
    },
    onError(error) {
      finished = true;
      if (answered) return; // we refused the response ourselves and aborted the upstream
      const blocked = findCause(error, isBlocked);
      const names = blocked ? namesWithPlace(blocked.secrets) : '';
      if (blocked) engine.logger.warn({ ...forward.log(), secrets: names }, 'blocked: placeholder in a streamed body sent to a host not on its allowlist; request cut');
      if (res.headersSent) {
        engine.logger.warn({ ...forward.log(), status: res.statusCode, reason: classifyUpstreamError(error).reason }, 'upstream failed mid-response');
        res.destroy();
        return;
      }
      if (res.destroyed) return;
      if (blocked) {
        replyError(res, 403, `secret ${names} may not be sent to host (not on its allowlist, or that location is not enabled); the streamed request was cut before the placeholder was forwarded`, { connection: 'close' });
        return;
      }
      // zlib errors (codes Z_*): a streamed request body that does not decode as its Content-Encoding.
      if (forward.chunked && findCause(error, isZlibError)) {
        engine.logger.warn({ ...forward.log(), status: 400 }, 'streamed request body does not decode as its Content-Encoding');
        replyError(res, 400, 'request body does not decode as its Content-Encoding', { connection: 'close' });
        return;
      }
      const failure = classifyUpstreamError(error);
      engine.logger.warn({ ...forward.log(), status: failure.status, reason: failure.reason }, 'upstream failed');
      replyError(res, failure.status, failure.reason);
    },
  } as Dispatcher.DispatchHandler;

  engine.agent.dispatch(
    {
      origin: forward.origin,
      path: forward.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: forward.rawHeaders,
      // undici accepts async iterables at runtime (its dispatch typings list only Readable).
      body: forward.buffer ?? (forward.body && forward.chunked ? (chunksOf(forward.body) as unknown as Readable) : forward.body),
    },
    handler,
  );
}
