/** What the client is told when the upstream fails: status + a short reason, never a secret. */
export interface UpstreamFailure {
  status: 502 | 504;
  reason: string;
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/**
 * The first error in the `cause` chain (the error itself, then up to 3 levels down) that `test`
 * accepts: undici wraps socket and body errors in `cause`.
 */
export function findCause<T>(error: unknown, test: (candidate: object) => candidate is T & object): T | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

const hasTellingCode = (candidate: object): candidate is { code: string } => {
  const code = (candidate as { code?: unknown }).code;
  return typeof code === 'string' && code !== 'UND_ERR_SOCKET';
};

function errorCode(error: unknown): string | undefined {
  return findCause(error, hasTellingCode)?.code;
}

/**
 * undici's SocketError for a head it will not take as the answer: a 100 Continue it did not ask for
 * (RFC 9110 lets a client ignore it; undici fails the exchange), a reply to no request.
 */
const isBadResponse = (candidate: object): candidate is Error =>
  (candidate as { code?: unknown }).code === 'UND_ERR_SOCKET' && (candidate as Error).message === 'bad response';

/** Maps an upstream error (net, tls, undici) to the reply the client gets. */

export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const code = errorCode(error);
  if (code === undefined) {
    if (findCause(error, isBadResponse)) return { status: 502, reason: 'upstream sent an unexpected response (such as 100 Continue to a request without Expect)' };
    return { status: 502, reason: 'upstream request failed' };
  }
  if (TLS_VERIFY_CODES.has(code)) return { status: 502, reason: `upstream TLS certificate verification failed (${code})` };
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return { status: 502, reason: `upstream TLS handshake failed (${code})` };
  }
  switch (code) {
    case 'ECONNREFUSED':
      return { status: 502, reason: 'upstream connection refused' };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return { status: 502, reason: 'upstream closed the connection' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 502, reason: 'upstream host could not be resolved' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { status: 502, reason: 'upstream host unreachable' };
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { status: 504, reason: 'upstream connect timed out' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, reason: 'upstream did not answer in time' };
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, reason: 'upstream body stalled' };
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return { status: 502, reason: 'request body did not match its Content-Length' };
    default:
      return { status: 502, reason: `upstream request failed (${code})` };
  }
}
