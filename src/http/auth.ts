import type { FastifyRequest } from 'fastify';
import type { Core } from '../core/context.js';
import { InvalidRequest, InvalidToken } from '../core/errors.js';
import { checkInstallBinding } from '../core/install-tokens.js';
import { andThen, type Maybe } from '../core/maybe.js';
import type { User } from '../core/model.js';
import { authenticateOperator, type Operator } from '../core/operators.js';
import { doorOfRoute } from './doors.js';
import type { TokenKind } from '../core/tokens.js';
import { verifyToken, type Verified } from '../core/verification.js';

/** A verified token that belongs to a user. */
export type UserCall = Verified & { user: User };

export interface GuardOptions {
  /** This endpoint opts in to install tokens, in the header or the `token` query parameter (SPEC §5.3). */
  installTokens?: boolean;
}

/** Kinds that act for a user on tokend's own endpoints; refresh and service tokens never do. */
const USER_KINDS: readonly TokenKind[] = ['access', 'api'];

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;
const BEARER_OR_TOKEN = /^(?:Bearer|Token) +([\x21-\x7e]+) *$/i;

/**
 * The credential of `Authorization: Bearer <credential>` (or, with `token`, also
 * `Token <credential>`), or null when the header is missing or has another shape.
 */
export function authorizationCredential(request: FastifyRequest, schemes: { token: boolean } = { token: false }): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  return (schemes.token ? BEARER_OR_TOKEN : BEARER).exec(header)?.[1] ?? null;
}

/** `Authorization: Bearer x` or `Token x` (SPEC §5.3: Token is accepted wherever Bearer is); null if absent. */
export function tokenFromHeader(request: FastifyRequest): string | null {
  if (request.headers.authorization === undefined) return null;
  const token = authorizationCredential(request, { token: true });
  if (token === null) throw new InvalidToken('the Authorization header must be "Bearer <token>" or "Token <token>"');
  return token;
}

type Query = Record<string, string | undefined>;

/**
 * The token a request presents. A token in the URL is only ever an install
 * token on an endpoint that opts in; the answer to any request that carried
 * one is `Cache-Control: private, no-store` (SPEC §9).
 */
function presentedToken(request: FastifyRequest, options: GuardOptions): { token: string; inUrl: boolean } {
  const query = (request.query ?? {}) as Query;
  // (Every answer to such a request is `Cache-Control: private, no-store`: the onSend hook in app.ts.)
  const inUrl = query.token ?? query.access_token;
  const header = tokenFromHeader(request);
  if (inUrl !== undefined) {
    if (header !== null) throw new InvalidRequest('send the token in one place only');
    if (!options.installTokens || query.token === undefined) throw new InvalidToken('tokens are not accepted in the URL of this endpoint');
    return { token: inUrl, inUrl: true };
  }
  if (header === null) throw new InvalidToken('this endpoint needs a token in the Authorization header');
  return { token: header, inUrl: false };
}

/**
 * Guards an endpoint that acts for a user. Throws InvalidToken (401 + RFC 6750
 * challenge) for anything else. Like verifyToken, it answers at once when no
 * store read is needed, and with a promise otherwise.
 */
export function requireUser(core: Core, request: FastifyRequest, options: GuardOptions = {}): Maybe<UserCall> {
  const { token, inUrl } = presentedToken(request, options);
  const admit = (verified: Verified | null): UserCall => {
    if (verified === null) throw new InvalidToken();
    const kind = verified.token.kind;
    if (kind === 'install') {
      if (!options.installTokens) throw new InvalidToken('install tokens are not accepted by this endpoint');
      const installId = ((request.query ?? {}) as Query).installid;
      checkInstallBinding(verified.token, installId === undefined ? [] : [installId]);
    } else if (inUrl || !USER_KINDS.includes(kind)) {
      throw new InvalidToken(`a ${kind} token is not accepted by this endpoint`);
    }
    if (verified.user === null) throw new InvalidToken('this endpoint needs a token that belongs to a user');
    return verified as UserCall;
  };
  return andThen(verifyToken(core, token, doorOfRoute(request.routeOptions.url)), admit);
}

/** Guards the operator API: `Authorization: Bearer <operator token>`. */
export async function requireOperator(core: Core, request: FastifyRequest): Promise<Operator> {
  const presented = authorizationCredential(request);
  if (presented === null) throw new InvalidToken('the operator API needs "Authorization: Bearer <operator token>"');
  const operator = await authenticateOperator(core, presented);
  if (operator === null) throw new InvalidToken('the operator token is invalid or revoked');
  return operator;
}
