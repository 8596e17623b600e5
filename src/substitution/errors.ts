import { VeilError } from '../errors.js';

/** The body had to be buffered to compute its new Content-Length and is above the hard cap (413). */
export class BodyTooLargeError extends VeilError {
  constructor(readonly hardCap: number) {
    super(413, `request body too large: Veil must buffer bodies that carry a Content-Length to fix it after substitution, and this one exceeds the limit of ${hardCap} bytes (send it chunked, or raise the limit)`);
  }
}

/** A Content-Encoding (gzip, deflate, br) body that does not decode (400). */
export class BodyDecodeError extends VeilError {
  constructor(coding: string, reason: string) {
    super(400, `request body does not decode as Content-Encoding ${coding}: ${reason}`);
  }
}

/** The proxy could not store a body it must buffer (spill directory missing, full, not writable): the proxy's fault, 500. */
export class BodySpillError extends VeilError {
  constructor(readonly code: string) {
    super(500, `the proxy could not store the request body to substitute it (temp file: ${code}); nothing was forwarded`);
  }
}

/**
 * Block mode for a streamed body (`blockDisallowed`): the placeholder of a mounted secret that may
 * not go to this host was found, so the rewrite fails before the bytes carrying it are emitted.
 * Carries the secrets' names (never a value); the proxy answers 403 or cuts the request.
 */
export class DisallowedPlaceholderError extends VeilError {
  readonly secrets: readonly { name: string; where: 'body' }[];

  constructor(secrets: readonly { name: string; where: 'body' }[]) {
    super(403, `placeholder of a disallowed secret in a streamed body: ${[...new Set(secrets.map((entry) => entry.name))].join(', ')}`);
    this.secrets = secrets.slice();
  }
}
