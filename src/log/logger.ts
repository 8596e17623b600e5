import { destination as pinoDestination, pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear. Values are never logged on purpose; this is the net
 * under that rule (a request body echoed by accident, a header dumped while debugging).
 */
export const REDACT_PATHS = [
  'value',
  '*.value',
  'secret.value',
  'body.value',
  'req.body.value',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'apiKey',
  'proxyToken',
  '*.proxyToken',
  'masterKey',
];

/** Lines are gathered up to this many bytes, or FLUSH_INTERVAL_MS, before a write. */
const BATCH_BYTES = 4096;
const FLUSH_INTERVAL_MS = 100;

/**
 * stdout for a long-running server: lines are written in batches (at 4 KiB, or every 100 ms), not
 * one write per line. With an access line per proxied request, one write each was ~40% of the
 * line's cost (bench/PROFILE.md). pino flushes what is left synchronously when the process exits;
 * a SIGKILL can lose at most the last 100 ms.
 */
function batchedStdout(): DestinationStream {
  const stream = pinoDestination({ dest: 1, sync: false, minLength: BATCH_BYTES });
  let pending = false;
  const write = stream.write.bind(stream);
  stream.write = (line: string) => {
    pending = true;
    return write(line);
  };
  const timer = setInterval(() => {
    if (!pending) return;
    pending = false;
    try {
      stream.flush();
    } catch {
      // destroyed meanwhile (stdout closed): nothing to flush to
    }
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  return stream;
}

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const merged: LoggerOptions = {
    level: process.env.VEIL_LOG_LEVEL ?? 'info',
    base: { service: 'veil' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  };
  return pino(merged, destination ?? batchedStdout());
}
