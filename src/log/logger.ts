import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const merged: LoggerOptions = {
    level: process.env.VEIL_LOG_LEVEL ?? 'info',
    base: { service: 'veil' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  };
  return destination ? pino(merged, destination) : pino(merged);
}
