import { InsufficientScopeError, InvalidTokenError, TokendSdkError } from '../errors.js';
import type { TokenIdentity, TokenKind } from './identity.js';

/** What a route admits. */
export interface RouteRule {
  /** Every one of these scopes must be granted (RFC 6750 §3.1 `insufficient_scope` otherwise). */
  scopes?: string[];
  /** Token kinds admitted; default access, api and service. A refresh token is never admitted. */
  kinds?: Array<Exclude<TokenKind, 'refresh'>>;
  /** SPEC §5.3: an install token may arrive as the `token` query parameter, bound by `installid`. */
  installTokensInQuery?: boolean;
}

const DEFAULT_KINDS: readonly TokenKind[] = ['access', 'api', 'service'];
const CREDENTIAL = /^(?:Bearer|Token) +([\x21-\x7e]+) *$/i;

/** Anything that verifies a token: a TokenVerifier, or a test's own. */
export interface Verifies {
  verify(token: string): Promise<TokenIdentity>;
}

/** The parts of a request the rules look at, whatever the framework. */
export interface RequestFacts {
  authorization: string | undefined;
  /** The request target, e.g. `/v3/tooltips?token=…&installid=…`. */
  url: string;
}

/**
 * Finds the token a request presents, verifies it, and applies the rule:
 * kind, install-id binding (an install token must name its own `installid`),
 * then scopes. Throws the SDK's typed errors; `challenge` turns them into an answer.
 */
export async function authorizeRequest(verifier: Verifies, request: RequestFacts, rule: RouteRule = {}): Promise<TokenIdentity> {
  const query = new URL(request.url, 'http://request.invalid').searchParams;
  const inUrl = [...query.getAll('token'), ...query.getAll('access_token')];
  let token: string;
  if (inUrl.length > 0) {
    if (request.authorization !== undefined || inUrl.length > 1) throw new InvalidTokenError('send the token in one place only');
    if (rule.installTokensInQuery !== true || !query.has('token')) throw new InvalidTokenError('tokens are not accepted in the URL of this route');
    token = inUrl[0]!;
  } else {
    if (request.authorization === undefined) throw new InvalidTokenError('this route needs a token in the Authorization header');
    const match = CREDENTIAL.exec(request.authorization);
    if (match === null) throw new InvalidTokenError('the Authorization header must be "Bearer <token>" or "Token <token>"');
    token = match[1]!;
  }
  const identity = await verifier.verify(token);
  const kinds: readonly TokenKind[] = rule.kinds ?? (rule.installTokensInQuery ? [...DEFAULT_KINDS, 'install'] : DEFAULT_KINDS);
  if (!kinds.includes(identity.kind)) throw new InvalidTokenError(`a ${identity.kind} token is not accepted on this route`);
  if (inUrl.length > 0 && identity.kind !== 'install') throw new InvalidTokenError(`a ${identity.kind} token is not accepted in the URL`);
  if (identity.kind === 'install') {
    const installIds = query.getAll('installid');
    if (installIds.length !== 1 || installIds[0] !== identity.installId) throw new InvalidTokenError('this install token belongs to another install id');
  }
  const missing = (rule.scopes ?? []).find((scope) => !identity.scopes.includes(scope));
  if (missing !== undefined) throw new InsufficientScopeError(missing);
  return identity;
}

/**
 * RFC 6750 §2.3: an answer to a request that carried its token in the URL
 * must not be cached by anyone (`private`, and `no-store` for good measure).
 */
export function tokenInUrl(url: string): boolean {
  const query = new URL(url, 'http://request.invalid').searchParams;
  return query.has('token') || query.has('access_token');
}

/** An answer for a refused request: 401 / 403 with RFC 6750 §3 challenges, 503 when tokend cannot be asked. */
export function challenge(error: unknown): { status: number; headers: Record<string, string>; body: { error: string; error_description: string } } {
  const quoted = (s: string) => s.replace(/["\\]/g, '');
  if (error instanceof InsufficientScopeError) {
    return {
      status: 403,
      headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${quoted(error.scope)}"` },
      body: { error: 'insufficient_scope', error_description: error.message },
    };
  }
  if (error instanceof InvalidTokenError) {
    return {
      status: 401,
      headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${quoted(error.message)}"` },
      body: { error: 'invalid_token', error_description: error.message },
    };
  }
  // Never fail open: anything else (tokend unreachable, a bad answer) refuses with 503 and asks for a retry.
  const message = error instanceof TokendSdkError ? error.message : 'token verification failed';
  return { status: 503, headers: { 'retry-after': '1' }, body: { error: 'temporarily_unavailable', error_description: message } };
}
