import type { FastifyRequest } from 'fastify';
import { authenticateClient } from '../core/apps.js';
import type { Core } from '../core/context.js';
import { InvalidClient, InvalidRequest, InvalidToken } from '../core/errors.js';
import { andThen, type Maybe } from '../core/maybe.js';
import type { App } from '../core/model.js';
import { authenticateOperator } from '../core/operators.js';
import { hashSecret } from '../core/tokens.js';
import { authorizationCredential } from './auth.js';

type Params = Readonly<Record<string, string | undefined>>;

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function decodeBasic(header: string): { clientId: string; clientSecret: string } {
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new InvalidClient('malformed Basic credentials', true);
  try {
    const unform = (s: string) => (/[%+]/.test(s) ? decodeURIComponent(s.replace(/\+/g, ' ')) : s);
    return { clientId: unform(decoded.slice(0, colon)), clientSecret: unform(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidClient('malformed Basic credentials', true);
  }
}

function hasBasicAuth(request: FastifyRequest): boolean {
  return /^Basic /i.test(request.headers.authorization ?? '');
}

/**
 * The authenticated client of an OAuth request: client_secret_basic or
 * client_secret_post, and never both at once (RFC 6749 §2.3).
 */
export function authenticateRequestClient(core: Core, request: FastifyRequest, params: Params): Maybe<App> {
  const basic = hasBasicAuth(request);
  if (basic && (params.client_secret !== undefined || request.headers.authorization === undefined)) {
    throw new InvalidRequest('use one client authentication method, not both');
  }
  if (basic) {
    const header = request.headers.authorization!;
    // A header that authenticated this app before, against the app record still kept, needs no decoding and
    // no secret check: keyed by its SHA-256, as verified tokens are, so no secret is kept or compared.
    const digest = hashSecret(header);
    const known = core.apps.authenticatedBy(digest);
    if (known !== undefined && (params.client_id === undefined || params.client_id === known.clientId)) return known;
    const credentials = decodeBasic(header);
    if (params.client_id !== undefined && params.client_id !== credentials.clientId) {
      throw new InvalidRequest('client_id in the body differs from the Basic credentials');
    }
    return andThen(authenticateClient(core, { ...credentials, basic: true }), (app) => {
      core.apps.authenticatedWith(digest, app);
      return app;
    });
  }
  if (params.client_id === undefined || params.client_secret === undefined) {
    throw new InvalidClient('client authentication is required: HTTP Basic or client_id and client_secret');
  }
  return authenticateClient(core, { clientId: params.client_id, clientSecret: params.client_secret, basic: false });
}

/**
 * The caller of an endpoint that an app or an operator may use (introspection,
 * SPEC §4; the revocation feed): `Authorization: Bearer` is an operator token,
 * unless client credentials come in the body; anything else is client
 * authentication. `app` is null exactly when an operator calls. A client the
 * app cache knows is answered at once (or refused with a throw).
 */
export function authenticateAppOrOperator(core: Core, request: FastifyRequest, params: Params): Maybe<{ app: App | null }> {
  const presented = authorizationCredential(request);
  if (presented === null || params.client_secret !== undefined) return andThen(authenticateRequestClient(core, request, params), (app) => ({ app }));
  return operatorCaller(core, presented);
}

async function operatorCaller(core: Core, presented: string): Promise<{ app: null }> {
  if ((await authenticateOperator(core, presented)) === null) throw new InvalidToken('the bearer token is not an operator token');
  return { app: null };
}
