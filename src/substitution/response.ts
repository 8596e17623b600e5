/**
 * Planning the scrubbing of one upstream response (issue 4), for the proxy.
 *
 * Use it only when the request had a value substituted (head `substituted` + body `candidates`).
 * Recommended on such requests: strip `Accept-Encoding` before forwarding (ask upstream for
 * identity) so that nothing needs decoding. When upstream still answers with gzip, deflate or br,
 * the body is decoded, scrubbed and sent to the client decoded (Content-Encoding removed: identity
 * is always acceptable to a client). An unknown Content-Encoding cannot be scrubbed: the plan says
 * so (`unscrubbable`) and the proxy decides (forward and log, or refuse with 502).
 *
 * The head is always scrubbed: header names and values, and the reason phrase when given. When
 * the body is scrubbed its length may change, so Content-Length is removed (the proxy's
 * ServerResponse then uses chunked encoding, or close-delimited for HTTP/1.0 clients).
 */
import * as streams from 'node:stream';
import type { Duplex, Transform } from 'node:stream';
import { codecChain, parseContentEncoding } from './codecs.js';
import { createScrubStream, scrubHeaders, scrubStatusMessage, type ScrubNeedles } from './scrub.js';
import { Replacer } from './stream-replace.js';

export interface ResponseScrubInput {
  /** Upstream response headers as latin1 strings, Node's rawHeaders shape. */
  rawHeaders: readonly string[];
  /** The reason phrase as undici decoded it (UTF-8), scrubbed into `plan.statusMessage`. */
  statusMessage?: string;
  needles: ScrubNeedles;
  /** False for HEAD requests and 1xx/204/304 answers: headers only. */
  hasBody: boolean;
  /**
   * An identity body is scrubbed by the caller with `plan.inline` (synchronous calls, no stream)
   * instead of a Transform in `plan.body`. Encoded bodies still get `plan.body`.
   */
  inline?: boolean;
}

export interface ResponseScrubPlan {
  /** Headers to send to the client. */
  rawHeaders: string[];
  /** The reason phrase to send ('' when none was given). */
  statusMessage: string;
  /** Pipe the upstream body through this; null: forward the body as it is (or scrub it with `inline`). */
  body: Duplex | null;
  /** With `input.inline`, an identity body: pass every chunk through this, then call end(). */
  inline?: Replacer;
  /** The body has an unknown Content-Encoding and goes through unscrubbed. */
  unscrubbable: boolean;
}

function removeHeaders(rawHeaders: readonly string[], lowerNames: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!lowerNames.includes(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

function headerValue(rawHeaders: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === lowerName) return rawHeaders[i + 1];
  }
  return undefined;
}

export function planResponseScrub(input: ResponseScrubInput): ResponseScrubPlan {
  const { needles } = input;
  const statusMessage = scrubStatusMessage(input.statusMessage ?? '', needles, 'utf8');
  if (needles.pairs.length === 0) return { rawHeaders: input.rawHeaders.slice(), statusMessage, body: null, unscrubbable: false };
  const headers = scrubHeaders(input.rawHeaders, needles);
  if (!input.hasBody) return { rawHeaders: headers, statusMessage, body: null, unscrubbable: false };
  const codings = parseContentEncoding(headerValue(headers, 'content-encoding'));
  if (codings === null) return { rawHeaders: headers, statusMessage, body: null, unscrubbable: true };
  if (codings.length === 0) {
    const rawHeaders = removeHeaders(headers, ['content-length']);
    if (input.inline) return { rawHeaders, statusMessage, body: null, inline: new Replacer(needles.matcher), unscrubbable: false };
    return { rawHeaders, statusMessage, body: createScrubStream(needles), unscrubbable: false };
  }
  const scrub = createScrubStream(needles);
  const { decoders } = codecChain(codings);
  // stream.compose exists since Node 16.9 (still marked experimental; @types/node 20 lacks it).
  const compose = (streams as unknown as { compose: (...parts: Transform[]) => Duplex }).compose;
  const body = compose(...decoders, scrub);
  return { rawHeaders: removeHeaders(headers, ['content-length', 'content-encoding']), statusMessage, body, unscrubbable: false };
}
