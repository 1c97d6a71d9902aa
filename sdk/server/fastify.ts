import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenIdentity } from './identity.js';
import { authorizeRequest, challenge, tokenInUrl, type RouteRule, type Verifies } from './rules.js';

export interface TokendFastifyOptions {
  verifier: Verifies;
  /** The rule of routes that set none in `config.tokend`; `false` leaves them open. Default: any access, API or service token. */
  defaultRule?: RouteRule | false;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, on routes the plugin guards. */
    tokend: TokenIdentity | null;
  }
  interface FastifyContextConfig {
    /** This route's rule, or `false` for a route without a token. */
    tokend?: RouteRule | false;
  }
}

/**
 * A Fastify plugin: every route is guarded by its `config.tokend` rule (or the
 * default) before its handler runs, and finds the caller in `request.tokend`.
 * Registered at the root: hooks reach routes declared after it.
 */
export async function tokendFastify(app: FastifyInstance, options: TokendFastifyOptions): Promise<void> {
  const fallback = options.defaultRule ?? {};
  app.decorateRequest('tokend', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const rule = request.routeOptions.config.tokend ?? fallback;
    if (rule === false || request.routeOptions.url === undefined) return;
    if (tokenInUrl(request.url)) reply.header('cache-control', 'private, no-store');
    try {
      request.tokend = await authorizeRequest(options.verifier, { authorization: request.headers.authorization, url: request.url }, rule);
    } catch (error) {
      const answer = challenge(error);
      // A token may be in the URL: the answer must not be cached by anyone (RFC 6750 §5.3).
      return reply.code(answer.status).headers({ ...answer.headers, 'cache-control': 'no-store' }).send(answer.body);
    }
  });
}
// Like fastify-plugin, without the dependency: the hooks apply to the scope that registers the plugin.
(tokendFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
