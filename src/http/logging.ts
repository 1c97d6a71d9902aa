import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';

/** Query parameters whose values are safe to log; every other value is replaced. */
const SAFE_QUERY = new Set(['installid', 'app_key', 'client_id', 'limit', 'cursor', 'kind', 'user_id', 'app_id', 'action', 'qr', 'since']);

/**
 * The URL as it may be logged: tokens travel in some URLs (install tokens,
 * seed 004's password in the query), so only values known to be harmless stay.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  const kept = [...params].map(([name, value]): [string, string] => [name, SAFE_QUERY.has(name) ? value : '[redacted]']);
  return `${url.slice(0, at)}?${new URLSearchParams(kept).toString()}`;
}

/** Paths pino replaces before anything is written (SPEC §9: no token, password, secret or key in logs). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'body.password',
  'body.client_secret',
  'body.token',
  'body.refresh_token',
  'body.access_token',
];

export function loggerOptions(level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level,
    ...(stream !== undefined && { stream }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactUrl(req.url), ip: req.ip }),
    },
  };
}
