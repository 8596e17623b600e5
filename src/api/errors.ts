/**
 * Every error reply is `{statusCode, error, message}`. Messages come from VeilError (written to
 * never include values) or are replaced by fixed text: parser errors can quote request bytes (a
 * JSON SyntaxError shows a slice of the body, which may be a secret value), so they never pass
 * through verbatim.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VeilError } from '../errors.js';
import { loggableUrl } from './log-safety.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Turns `body/name must match pattern "..."` into `name must match ...`, naming the field. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return 'request is invalid';
  const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const pattern = (first.params as { pattern?: string } | undefined)?.pattern;
  if (missing) return `${field ? `${field}.` : ''}${missing} is required`;
  if (pattern) return `${field || 'value'} must match ${pattern}`;
  return `${field || (error.validationContext ?? 'request')} ${first.message ?? 'is invalid'}`;
}

/** Fixed messages for framework errors; never the framework's text when it could echo input. */
function frameworkMessage(error: FastifyError, statusCode: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'body is not valid JSON';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'body must not be empty when Content-Type is application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Content-Type must be application/json';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'Content-Length does not match the body';
    default:
      break;
  }
  if (error instanceof SyntaxError) return 'body is not valid JSON';
  if (statusCode === 413) return 'body is too large';
  if (statusCode === 415) return 'unsupported Content-Type';
  return statusCode >= 500 ? 'internal error' : (STATUS_CODES[statusCode] ?? 'request failed');
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let statusCode: number;
    let message: string;
    if (error instanceof VeilError) {
      statusCode = error.statusCode;
      message = error.message;
    } else if (error.validation) {
      statusCode = 400;
      message = validationMessage(error);
    } else {
      const candidate = error.statusCode ?? 500;
      statusCode = candidate >= 400 && candidate < 600 ? candidate : 500;
      message = frameworkMessage(error, statusCode);
    }
    if (statusCode >= 500) {
      // Internal errors are logged with their stack; no layer below puts values into messages.
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ statusCode, reason: message }, 'request rejected');
    }
    if (statusCode === 401) reply.header('www-authenticate', 'Bearer realm="veil"');
    return reply.code(statusCode).send(errorBody(statusCode, message));
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    return reply.code(404).send(errorBody(404, `route ${request.method} ${loggableUrl(request.url)} not found`));
  });
}
