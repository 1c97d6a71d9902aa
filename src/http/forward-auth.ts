import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../core/context.js';
import { InsufficientScope, InvalidToken } from '../core/errors.js';
import { checkInstallBinding } from '../core/install-tokens.js';
import { DEFAULT_FORWARD_AUTH_RULES, matchRule, type ForwardAuthRule } from '../core/forward-auth-rules.js';
import { verifyToken, type Verified } from '../core/verification.js';
import { tokenFromHeader } from './auth.js';
import { oauthError, useErrorShape } from './errors.js';

/** What the proxy says the original request was: nginx `auth_request` or Traefik `forwardAuth` headers. */
interface Original {
  method: string;
  path: string;
  query: URLSearchParams;
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The path as the rules judge it. The upstream sees the client's raw URI
 * (nginx passes `$request_uri` on unchanged) and its router may decode or
 * normalise it its own way, so any path two routers could read differently —
 * encoded slashes, dot segments, double slashes, backslashes, control
 * characters — is refused rather than guessed at. Case is folded by
 * `matchRule` (Express routes case-insensitively).
 */
function judgedPath(raw: string): string | null {
  if (/%2f|%5c/i.test(raw)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (/[\\\x00-\x1f\x7f]/.test(decoded) || decoded.includes('//') || /(^|\/)\.{1,2}(\/|$)/.test(decoded)) return null;
  return decoded;
}

function original(request: FastifyRequest): Original {
  const method = header(request, 'x-original-method') ?? header(request, 'x-forwarded-method') ?? 'GET';
  const uri = header(request, 'x-original-uri') ?? header(request, 'x-forwarded-uri');
  // nginx turns any status but 2xx, 401 and 403 into 500: a misconfigured proxy gets a 403 that says why.
  if (uri === undefined || !uri.startsWith('/')) throw new InsufficientScope(null, 'the proxy must send X-Original-URI (nginx) or X-Forwarded-Uri (Traefik)');
  const end = uri.search(/[?#]/);
  const path = judgedPath(end === -1 ? uri : uri.slice(0, end));
  if (path === null) throw new InsufficientScope(null, 'the original path is ambiguous (encoded slashes, dot segments, double slashes): refused');
  const query = end === -1 || uri[end] === '#' ? '' : uri.slice(end + 1).split('#')[0]!;
  return { method, path, query: new URLSearchParams(query) };
}

/**
 * The token the original request presented. SPEC §5.3: a token in the URL is
 * only ever an install token, only where the rule lets it, only as `token`.
 */
function presented(request: FastifyRequest, query: URLSearchParams, rule: ForwardAuthRule): { token: string; inUrl: boolean } {
  const inUrl = query.getAll('token').concat(query.getAll('access_token'));
  const fromHeader = tokenFromHeader(request);
  if (inUrl.length > 0) {
    if (fromHeader !== null || inUrl.length > 1) throw new InvalidToken('send the token in one place only');
    if (!rule.installTokensInQuery || !query.has('token')) throw new InvalidToken('tokens are not accepted in the URL of this route');
    return { token: inUrl[0]!, inUrl: true };
  }
  if (fromHeader === null) throw new InvalidToken('this route needs a token in the Authorization header');
  return { token: fromHeader, inUrl: false };
}

/** Applies the rule to a live token: its kind, the install-id binding (SPEC §5.3), then scopes (RFC 6750 §3.1). */
function authorize(verified: Verified, rule: ForwardAuthRule, query: URLSearchParams, inUrl: boolean): void {
  const { kind, scopes } = verified.token;
  if (!(rule.kinds as readonly string[]).includes(kind)) throw new InvalidToken(`a ${kind} token is not accepted on this route`);
  if (inUrl && kind !== 'install') throw new InvalidToken(`a ${kind} token is not accepted in the URL`);
  if (kind === 'install') checkInstallBinding(verified.token, query.getAll('installid'));
  const missing = rule.scopes.find((scope) => !scopes.includes(scope));
  if (missing !== undefined) throw new InsufficientScope(missing);
}

/**
 * GET /v1/forward-auth, for nginx `auth_request` and Traefik `forwardAuth`: 200
 * with identity headers the proxy passes upstream, 401 (no live token) or 403
 * (a live token the route's rule does not admit). A store outage is 503.
 */
export async function forwardAuthRoutes(app: FastifyInstance, options: { core: Core; rules: readonly ForwardAuthRule[] | null }): Promise<void> {
  const { core } = options;
  const rules = options.rules ?? DEFAULT_FORWARD_AUTH_RULES;
  useErrorShape(app, oauthError);

  app.get('/v1/forward-auth', { schema: { tags: ['Forward-auth'], summary: 'Decides a proxied request by the route rules (nginx auth_request, Traefik forwardAuth)' } }, async (request, reply) => {
    const { method, path, query } = original(request);
    const rule = matchRule(rules, method, path);
    if (rule === null) throw new InsufficientScope(null, `no forward-auth rule covers ${method} ${path}`);
    const { token, inUrl } = presented(request, query, rule);
    const verified = await verifyToken(core, token, 'other');
    if (verified === null) throw new InvalidToken();
    authorize(verified, rule, query, inUrl);
    const { user, app: client, token: record } = verified;
    return reply
      .header('x-tokend-user-id', user === null ? '' : String(user.id))
      .header('x-tokend-client-id', client.clientId)
      .header('x-tokend-scopes', record.scopes.join(' '))
      .header('x-tokend-token-kind', record.kind)
      .code(200)
      .send({ ok: true });
  });
}
