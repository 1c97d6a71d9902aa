/**
 * tokend's SDK. Clients: `ServiceTokenSource` (partner backends with a master
 * key), `UserSession` (password logins), `authorizedFetch`. Resource servers:
 * `TokenVerifier`, with `tokendMiddleware` (Connect / Express) on top, and
 * the Fastify plugin in `tokend/sdk/fastify` (kept apart: it augments
 * Fastify's types, which a non-Fastify user need not install).
 * Runtime dependency: `jose` only. See docs/sdk.md.
 */
export * from './errors.js';
export type { Clock, Fetch, Sleep } from './http.js';
export { ServiceTokenSource, type ServiceToken, type ServiceTokenSourceOptions } from './client/service-token.js';
export { MemoryTokenStorage, UserSession, type LoginDoor, type SessionTokens, type TokenStorage, type UserSessionOptions } from './client/session.js';
export { authorizedFetch, sessionProvider, type AuthorizedFetchOptions, type TokenProvider } from './client/fetch.js';
export type { TokenIdentity, TokenKind } from './server/identity.js';
export { TokenVerifier, type VerifierCredentials, type VerifierOptions } from './server/verifier.js';
export type { FeedRevocation } from './server/revocations.js';
export { authorizeRequest, challenge, tokenInUrl, type RequestFacts, type RouteRule, type Verifies } from './server/rules.js';
export { tokendMiddleware, type TokendRequest } from './server/express.js';
