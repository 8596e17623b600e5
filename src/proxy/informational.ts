/**
 * 1xx answers an upstream sends before its final one (RFC 9110 §15.2). undici hands them to the
 * handler's onHeaders like a final head; writing them as one (writeHead) left the client with nothing.
 * What is relayed, to HTTP/1.1 clients only (an HTTP/1.0 client must get no 1xx):
 *   - `102 Processing`: as it is (it has no headers worth keeping).
 *   - `103 Early Hints`: its Link headers only (what Early Hints are for, and all that Node's
 *     writeEarlyHints writes safely), scrubbed like any response head when a value went upstream.
 *     A 103 without Link, or with one Node refuses to write, is dropped.
 * Anything else (104+) is dropped. A dropped 1xx costs the client nothing: the final answer follows.
 * (`100 Continue` never gets here: the proxy answers the client's Expect itself, and undici fails a
 * 100 it did not ask for.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { scrubHeaders, type ScrubNeedles } from './scrub.js';

export type InformationalOutcome = 'relayed' | 'dropped';

/** Relays or drops one 1xx head (`rawHeaders` without hop-by-hop headers). Never throws. */
export function relayInformational(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  rawHeaders: readonly string[],
  needles: ScrubNeedles | null,
): InformationalOutcome {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1 || res.headersSent || res.destroyed) return 'dropped';
  if (statusCode === 102) {
    res.writeProcessing();
    return 'relayed';
  }
  if (statusCode !== 103) return 'dropped';
  const headers = needles ? scrubHeaders(rawHeaders, needles) : rawHeaders;
  const links: string[] = [];
  for (let index = 0; index + 1 < headers.length; index += 2) {
    if (headers[index]!.toLowerCase() === 'link') links.push(headers[index + 1]!);
  }
  if (links.length === 0) return 'dropped';
  try {
    // Validates each Link value (throws on one it cannot write) and joins them with ", ".
    res.writeEarlyHints({ link: links });
    return 'relayed';
  } catch {
    return 'dropped';
  }
}
