import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  InsufficientScope,
  InvalidClient,
  InvalidRequest,
  InvalidToken,
  PayloadTooLarge,
  RateLimited,
  ServiceUnavailable,
  TokendError,
  UnsupportedMediaType,
} from '../core/errors.js';
import { isStoreOutage } from '../store/outage.js';

/** Renders a core error in one dialect's error shape. */
export type ErrorRenderer = (error: TokendError) => unknown;

/** RFC 6749 §5.2 shape; tokend's own APIs use it too. */
export const oauthError: ErrorRenderer = (error) => ({ error: error.code, error_description: error.description });

const SERVER_ERROR = new TokendError('server_error', 500, 'the server could not complete the request');

/**
 * Maps anything thrown while serving a request to a TokendError. Fastify's own
 * 4xx errors become `invalid_request` with a message of ours: parser messages
 * can quote the body, and the body may hold a password.
 */
export function toTokendError(error: unknown): TokendError {
  if (error instanceof TokendError) return error;
  const e = error as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (e.validation !== undefined) {
    const where = e.validationContext ?? 'request';
    return new InvalidRequest(`${where} ${String(e.message ?? 'is invalid').replace(/^(body|querystring|params|headers)\/?\s?/, '')}`.trim());
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequest('the JSON body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidRequest('the body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequest('Content-Length does not match the body');
  }
  if (error instanceof SyntaxError || (e.statusCode === 400 && e.code === undefined)) return new InvalidRequest('the body is not valid JSON');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new TokendError('invalid_request', e.statusCode, 'the request could not be read');
  }
  if (isStoreOutage(error)) return new ServiceUnavailable();
  return SERVER_ERROR;
}

/** RFC 6750 §3 / RFC 6749 §5.2 challenges and RFC 6585 Retry-After. */
function challengeHeaders(reply: FastifyReply, error: TokendError): void {
  if (error instanceof InvalidToken) {
    reply.header('www-authenticate', `Bearer realm="tokend", error="invalid_token", error_description="${error.description}"`);
  } else if (error instanceof InsufficientScope) {
    // RFC 6750 §3: `scope` names what is missing, when a scope would help at all.
    const scope = error.scope === null ? '' : `, scope="${error.scope}"`;
    reply.header('www-authenticate', `Bearer realm="tokend", error="insufficient_scope"${scope}`);
  } else if (error instanceof InvalidClient && error.basic) {
    reply.header('www-authenticate', 'Basic realm="tokend"');
  } else if (error instanceof RateLimited) {
    reply.header('retry-after', String(error.retryAfter));
  } else if (error instanceof ServiceUnavailable) {
    reply.header('retry-after', '1');
  }
}

/** Sends a core error in the given shape: right status, challenge headers, never a stack trace. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown, render: ErrorRenderer): FastifyReply {
  const mapped = toTokendError(error);
  // The line names its request (method, redacted URL, ip): above level info there is no request line to match by reqId.
  if (mapped.status >= 500) request.log.error({ err: error, req: request }, 'request failed');
  challengeHeaders(reply, mapped);
  return reply.code(mapped.status).header('cache-control', 'no-store').send(render(mapped));
}

/** Every error raised under `scope` (validation, parsing, hooks, handlers) answers in `render`'s shape. */
export function useErrorShape(scope: FastifyInstance, render: ErrorRenderer): void {
  scope.setErrorHandler((error, request, reply) => sendError(request, reply, error, render));
}
