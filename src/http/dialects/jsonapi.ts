import { STATUS_CODES } from 'node:http';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/context.js';
import { Conflict, InvalidGrant, InvalidRequest, UnsupportedGrantType, UnsupportedMediaType } from '../../core/errors.js';
import { refreshSession } from '../../core/grants/refresh-token.js';
import type { TokenSet } from '../../core/issuance.js';
import { loginWithPassword } from '../../core/login.js';
import type { App, Session, User } from '../../core/model.js';
import { deauthorizeSession } from '../../core/self-service.js';
import { requireUser } from '../auth.js';
import { clientGone } from '../client-gone.js';
import { sendError, toTokendError, type ErrorRenderer } from '../errors.js';
import { IdParam, Nullable } from '../schemas.js';
import { dialectApp, invalidGrantAs401, mergeParams, unixSeconds, type Params } from './common.js';

/*
 * Seed 001 (SPEC §5.2): username and password for a JWT access token and a
 * refresh token, answered as a JSON:API document; refresh on the same
 * endpoint; logout by DELETE. Parse → core verb → JSON:API shape, nothing more.
 */

const PATH = '/api/auth/v1/access_tokens';
const JSON_API = 'application/vnd.api+json';
const RESOURCE_TYPE = 'AuthenticationTokens';

/** The parameters this door reads, at the top level or in `data.attributes`; anything else is ignored. */
const NAMES = ['username', 'password', 'grant_type', 'refresh_token', 'client_id', 'scope', 'device_info'] as const;

const Field = Type.Optional(Type.String({ maxLength: 8192 }));
const Attributes = Object.fromEntries(NAMES.map((name) => [name, Field])) as Record<(typeof NAMES)[number], typeof Field>;

const AccessTokensRequest = Type.Object(
  {
    ...Attributes,
    data: Type.Optional(
      Type.Object(
        { type: Type.Optional(Type.String({ maxLength: 200 })), attributes: Type.Object(Attributes, { additionalProperties: true }) },
        { additionalProperties: true },
      ),
    ),
  },
  {
    additionalProperties: true,
    description:
      '`{username, password}` or `{grant_type: "refresh_token", refresh_token}`, flat or as a JSON:API resource ' +
      '`{data: {type: "AuthenticationTokens", attributes: {…}}}`; optional `client_id` names the app (else `default`).',
  },
);
type AccessTokensBody = Static<typeof AccessTokensRequest>;

const AuthenticationTokens = Type.Object({
  data: Type.Array(
    Type.Object({
      type: Type.Literal(RESOURCE_TYPE),
      id: Type.String({ description: 'the session id; DELETE it to log out' }),
      attributes: Type.Object({
        login_timestamp: Type.Integer({ description: 'when the session began (Unix seconds); a refresh keeps it' }),
        user_id: Type.Integer(),
        user_profile_id: Type.String(),
        access_token: Type.String({ description: 'an RFC 9068 JWT, whatever the app\'s own format' }),
        expires_at_timestamp: Type.Integer({ description: 'the access token\'s `exp` (Unix seconds)' }),
        refresh_token: Nullable(Type.String({ description: 'single-use; null if the app lacks the refresh_token grant' })),
      }),
    }),
  ),
});

const JsonApiErrors = Type.Object({
  errors: Type.Array(Type.Object({ status: Type.String(), code: Type.String(), title: Type.String(), detail: Type.String() })),
});

const document = (schema: object) => ({ content: { [JSON_API]: { schema } } });
const errorDocuments = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, document(JsonApiErrors)]));

/** JSON:API error objects (§ Error Objects): `status` is a string; `code` is tokend's stable error code. */
export const jsonApiError: ErrorRenderer = (error) => ({
  errors: [{ status: String(error.status), code: error.code, title: STATUS_CODES[error.status] ?? 'Error', detail: error.description }],
});

/**
 * A failed login and a dead refresh token are `invalid_grant`, 400 in OAuth;
 * this door answers 401, which is what a client of seed 001 takes as "log in
 * again". LoginFailed's description is the same for every cause, so unknown
 * user and wrong password stay byte-identical.
 */
function forThisDoor(error: unknown): unknown {
  const mapped = toTokendError(error);
  if (mapped instanceof InvalidGrant) return invalidGrantAs401(mapped);
  if (mapped instanceof UnsupportedMediaType) return new UnsupportedMediaType(`send ${JSON_API} or application/json`);
  return error; // unchanged, so a 500 is logged with its real cause
}

export async function jsonApiDialect(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  // Only JSON and JSON:API bodies here: a form body is 415 like any other type.
  app.removeContentTypeParser('application/x-www-form-urlencoded');
  app.setErrorHandler((error, request, reply) => {
    reply.header('content-type', JSON_API);
    return sendError(request, reply, forThisDoor(error), jsonApiError);
  });

  app.post(
    PATH,
    {
      schema: {
        tags: ['Seed dialects'],
        summary: 'JSON:API password login and refresh (seed 001): a JWT access token and a single-use refresh token',
        consumes: ['application/json', JSON_API],
        querystring: Type.Object({ client_id: Type.Optional(Type.String({ maxLength: 200 })) }),
        body: AccessTokensRequest,
        response: { 201: document(AuthenticationTokens), ...errorDocuments(400, 401, 409, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const params = requestParams(request.body as AccessTokensBody, request.query as Params);
      const grantType = params.grant_type ?? 'password';
      if (grantType !== 'password' && grantType !== 'refresh_token') {
        throw new UnsupportedGrantType(`grant_type "${grantType.slice(0, 40)}" is not supported; use password or refresh_token`);
      }
      const client = await dialectApp(core, params.client_id);
      const issued = grantType === 'password' ? await logIn(core, client, params, request) : await renew(core, client, params, request.ip);
      return reply.code(201).header('content-type', JSON_API).header('cache-control', 'no-store').header('pragma', 'no-cache').send(render(issued));
    },
  );

  app.delete(
    `${PATH}/:id`,
    {
      schema: {
        tags: ['Seed dialects'],
        summary: 'Log out (seed 001): revoke one of your sessions and every token it holds',
        security: [{ bearer: [] }],
        params: IdParam,
        response: { 204: Type.Null(), ...errorDocuments(400, 401, 404) },
      },
      // JSON:API clients send their Content-Type on every request; an empty DELETE body is no body, not empty JSON.
      onRequest: async (request) => {
        const { 'content-length': length, 'transfer-encoding': chunked } = request.headers;
        if (chunked === undefined && (length === undefined || length === '0')) delete request.headers['content-type'];
      },
    },
    async (request, reply) => {
      const caller = await requireUser(core, request);
      // Another user's session is "not found", like an unknown id, so ids cannot be probed.
      await deauthorizeSession(core, caller, (request.params as { id: string }).id, request.ip);
      return reply.code(204).send();
    },
  );
}

/**
 * The flat form and the JSON:API resource form, read the same way. A name
 * given in two places (top level and attributes, or body and query) is 400.
 */
function requestParams(body: AccessTokensBody, query: Params): Params {
  const resource = body.data;
  // JSON:API: a resource of a type the collection does not hold is 409 Conflict.
  if (resource?.type !== undefined && resource.type !== RESOURCE_TYPE) throw new Conflict(`data.type must be "${RESOURCE_TYPE}"`);
  return mergeParams(known(body), known(resource?.attributes), query.client_id === undefined ? undefined : { client_id: query.client_id });
}

const known = (source: Partial<Record<string, unknown>> | undefined): Params | undefined =>
  source === undefined ? undefined : (Object.fromEntries(NAMES.filter((name) => source[name] !== undefined).map((name) => [name, source[name]])) as Params);

interface Issued {
  session: Session;
  user: User;
  set: TokenSet;
}

async function logIn(core: Core, app: App, params: Params, request: FastifyRequest): Promise<Issued> {
  const { username, password } = params;
  if (username === undefined || username === '') throw new InvalidRequest('username is required');
  if (password === undefined) throw new InvalidRequest('password is required');
  const { session, set } = await loginWithPassword(core, {
    app,
    username,
    password,
    ...(params.scope !== undefined && { scope: params.scope }),
    ...(params.device_info !== undefined && { deviceInfo: params.device_info }),
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
    door: 'jsonapi',
    accessFormat: 'jwt',
    gone: clientGone(request),
  });
  return { session, user: await owner(core, session), set };
}

async function renew(core: Core, app: App, params: Params, ip: string): Promise<Issued> {
  const presented = params.refresh_token;
  if (presented === undefined || presented === '') throw new InvalidRequest('refresh_token is required');
  const set = await refreshSession(core, { app, presented, ...(params.scope !== undefined && { scope: params.scope }), ip, door: 'jsonapi', accessFormat: 'jwt' });
  const session = set.sessionId === null ? null : await core.store.findSession(set.sessionId);
  if (session === null) throw new InvalidGrant('the refresh token is invalid, expired or revoked');
  return { session, user: await owner(core, session), set };
}

async function owner(core: Core, session: Session): Promise<User> {
  const user = await core.store.findUserById(session.userId);
  if (user === null) throw new InvalidGrant('the user no longer exists');
  return user;
}

function render({ session, user, set }: Issued): Static<typeof AuthenticationTokens> {
  return {
    data: [
      {
        type: RESOURCE_TYPE,
        id: session.id,
        attributes: {
          login_timestamp: unixSeconds(session.createdAt),
          user_id: user.id,
          user_profile_id: user.userProfileId,
          access_token: set.accessToken,
          expires_at_timestamp: unixSeconds(set.expiresAt),
          refresh_token: set.refreshToken,
        },
      },
    ],
  };
}
