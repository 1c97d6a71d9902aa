import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenIdentity } from './identity.js';
import { authorizeRequest, challenge, tokenInUrl, type RouteRule, type Verifies } from './rules.js';

/** A request the middleware has passed: the caller is on `tokend`. */
export type TokendRequest = IncomingMessage & { tokend: TokenIdentity };

/**
 * Connect / Express middleware guarding the routes it is mounted on with one
 * rule; the caller lands on `req.tokend`. It uses only Node's own request and
 * response, so it works with Connect, Express 4 and 5, and plain `http`.
 */
export function tokendMiddleware(verifier: Verifies, rule: RouteRule = {}): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    // Express rewrites req.url under a mount path; originalUrl keeps the query as sent.
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    if (tokenInUrl(url)) res.setHeader('cache-control', 'private, no-store');
    authorizeRequest(verifier, { authorization: req.headers.authorization, url }, rule)
      .then(
        (identity) => {
          (req as TokendRequest).tokend = identity;
          next();
        },
        (error: unknown) => {
          const answer = challenge(error);
          res.statusCode = answer.status;
          for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
          res.setHeader('cache-control', 'no-store');
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(answer.body));
        },
      )
      // Whatever the route itself throws synchronously goes to the framework's error handling, not an unhandled rejection.
      .catch(next);
  };
}
