import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../core/context.js';
import { InvalidRequest } from '../core/errors.js';
import { grantFor } from '../core/grants/index.js';
import type { TokenSet } from '../core/issuance.js';
import { introspectToken, type Introspection } from '../core/introspection.js';
import { andThen } from '../core/maybe.js';
import { revokePresented } from '../core/revocation.js';
import { authenticateAppOrOperator, authenticateRequestClient } from './client-auth.js';
import { clientGone } from './client-gone.js';
import { oauthError, useErrorShape } from './errors.js';
import { Nullable, OAuthParams, TokenResponse, errors } from './schemas.js';

type Params = Record<string, string | undefined>;

const TOKEN_PARAMS = ['grant_type', 'username', 'password', 'scope', 'refresh_token', 'client_id', 'client_secret', 'device_info'];

/** RFC 6749 §5.1 body. */
export function tokenResponse(set: TokenSet): Record<string, unknown> {
  return {
    access_token: set.accessToken,
    token_type: 'Bearer',
    expires_in: set.expiresIn,
    ...(set.refreshToken !== null && { refresh_token: set.refreshToken }),
    ...(set.scopes.length > 0 && { scope: set.scopes.join(' ') }),
  };
}

const userAgent = (request: FastifyRequest): string | null => request.headers['user-agent'] ?? null;

/** RFC 7662 §2.2: `active`, and for an active token what it is (src/core/introspection.ts); declared whole so it is serialized by compiled code. */
const IntrospectionResponse = Type.Object({
  active: Type.Boolean(),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  sub: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  iss: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  session_id: Type.Optional(Nullable(Type.String())),
  install_id: Type.Optional(Nullable(Type.String())),
});

/** Introspection answers serialized, by answer: equal answers are one object (src/core/introspection.ts), kept while it keeps them. */
const introspectionTexts = new WeakMap<Introspection, string>();

/** /oauth/token, /oauth/revoke, /oauth/introspect and the two .well-known documents. */
export async function oauthRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);

  app.post(
    '/oauth/token',
    {
      schema: {
        tags: ['OAuth 2.0'],
        summary: 'Token endpoint (RFC 6749): password, refresh_token, client_credentials',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: OAuthParams(TOKEN_PARAMS),
        response: { 200: TokenResponse, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const params = request.body as Params;
      const client = await authenticateRequestClient(core, request, params);
      if (params.grant_type === undefined) throw new InvalidRequest('grant_type is required');
      const grant = grantFor(params.grant_type);
      const set = await grant(core, { app: client, params, ip: request.ip, userAgent: userAgent(request), gone: clientGone(request) });
      // RFC 6749 §5.1: token responses must not be cached.
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(tokenResponse(set));
    },
  );

  app.post(
    '/oauth/revoke',
    {
      schema: {
        tags: ['OAuth 2.0'],
        summary: 'Revocation (RFC 7009); revoking a refresh token revokes its session',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: OAuthParams(['token', 'token_type_hint', 'client_id', 'client_secret']),
        response: { 200: Type.Null(), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const params = request.body as Params;
      const client = await authenticateRequestClient(core, request, params);
      if (params.token === undefined || params.token === '') throw new InvalidRequest('token is required');
      await revokePresented(core, client, params.token, request.ip);
      // RFC 7009 §2.2: 200 whether or not the token was known.
      return reply.code(200).send();
    },
  );

  app.post(
    '/oauth/introspect',
    {
      schema: {
        tags: ['OAuth 2.0'],
        summary: 'Introspection (RFC 7662): an app sees only its own tokens; an operator token sees all',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: OAuthParams(['token', 'token_type_hint', 'client_id', 'client_secret']),
        response: { 200: IntrospectionResponse, ...errors(400, 401) },
      },
    },
    // Not an async handler: a client and a token the caches know are answered in the same turn, with no promise.
    (request, reply) => {
      const params = request.body as Params;
      const send = (answer: Introspection) => {
        let text = introspectionTexts.get(answer);
        if (text === undefined) {
          text = reply.serialize(answer) as string; // the route's compiled 200 serializer
          introspectionTexts.set(answer, text);
        }
        return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(text);
      };
      return andThen(authenticateAppOrOperator(core, request, params), ({ app: client }) => {
        if (params.token === undefined || params.token === '') throw new InvalidRequest('token is required');
        return andThen(introspectToken(core, params.token, client), send);
      });
    },
  );

  app.get(
    '/.well-known/oauth-authorization-server',
    { schema: { tags: ['OAuth 2.0'], summary: 'Authorization server metadata (RFC 8414)' } },
    async (_request, reply) => {
      const issuer = core.settings.issuer;
      const authMethods = ['client_secret_basic', 'client_secret_post'];
      return reply.header('cache-control', 'public, max-age=300').send({
        issuer,
        token_endpoint: `${issuer}/oauth/token`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        introspection_endpoint: `${issuer}/oauth/introspect`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        grant_types_supported: ['password', 'refresh_token', 'client_credentials'],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: authMethods,
        revocation_endpoint_auth_methods_supported: authMethods,
        introspection_endpoint_auth_methods_supported: [...authMethods, 'bearer'],
        service_documentation: `${issuer}/docs`,
      });
    },
  );

  app.get(
    '/.well-known/jwks.json',
    { schema: { tags: ['OAuth 2.0'], summary: 'The public signing keys (RFC 7517): current, next and still-needed retired keys' } },
    async (_request, reply) => reply.header('cache-control', 'public, max-age=60').send(core.keys.jwks()),
  );
}
