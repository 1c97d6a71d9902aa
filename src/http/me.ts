import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/context.js';
import { createApiToken, deauthorizeSession, deleteApiToken, logout } from '../core/self-service.js';
import { andThen } from '../core/maybe.js';
import { requireUser, type UserCall } from './auth.js';
import { oauthError, useErrorShape } from './errors.js';
import { ApiTokenRequest, IdParam, NextCursor, Nullable, Pagination, errors } from './schemas.js';
import { iso, sessionView, tokenView } from './views.js';

const bearer = [{ bearer: [] }];

/** `GET /v1/me`'s answer; declared so Fastify serializes it with a compiled stringifier, not JSON.stringify. */
const MeResponse = Type.Object({
  user_id: Type.Integer(),
  username: Type.String(),
  user_profile_id: Type.String(),
  app: Type.Object({ client_id: Type.String(), name: Type.String() }),
  token: Type.Object({
    id: Type.String(),
    kind: Type.String(),
    scopes: Type.Array(Type.String()),
    expires_at: Nullable(Type.String({ format: 'date-time' })),
    session_id: Nullable(Type.String()),
    install_id: Nullable(Type.String()),
  }),
});

/** `GET /v1/me`'s answer for a verified token. */
function meView({ user, app: client, token }: UserCall): Static<typeof MeResponse> {
  return {
    user_id: user.id,
    username: user.username,
    user_profile_id: user.userProfileId,
    app: { client_id: client.clientId, name: client.name },
    token: {
      id: token.id,
      kind: token.kind,
      scopes: [...token.scopes],
      expires_at: iso(token.expiresAt),
      session_id: token.sessionId,
      install_id: token.installId,
    },
  };
}

/**
 * Answers already serialized, by verification: a cached verification hands
 * back the same object, so a repeat call costs a lookup; the entry goes with
 * the cache's (a revocation, a change to the user or app, expiry).
 */
const meAnswers = new WeakMap<UserCall, string>();

/** SPEC §6: what any user token may do for its own user. */
export async function meRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);

  app.get(
    '/v1/me',
    {
      schema: {
        tags: ['Self-service'],
        summary: 'The calling user, app and token; accepts install tokens (header or `token` query parameter)',
        security: bearer,
        querystring: Type.Object({ installid: Type.Optional(Type.String({ maxLength: 200 })), token: Type.Optional(Type.String()) }),
        response: { 200: MeResponse, 401: Type.Ref('Error'), 403: Type.Ref('Error') },
      },
    },
    // Not an async handler: a verification the cache answers is sent in the same turn, with no promise.
    (request, reply) => {
      const send = (verified: UserCall) => {
        let answer = meAnswers.get(verified);
        if (answer === undefined) {
          answer = reply.serialize(meView(verified)) as string; // the route's compiled 200 serializer
          meAnswers.set(verified, answer);
        }
        return reply.type('application/json; charset=utf-8').send(answer);
      };
      return andThen(requireUser(core, request, { installTokens: true }), send);
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags: ['Self-service'],
        summary: "The caller's live sessions, on every app and device",
        security: bearer,
        querystring: Pagination,
        response: {
          200: Type.Object({ sessions: Type.Array(Type.Ref('Session')), next_cursor: NextCursor }),
          ...errors(401),
        },
      },
    },
    async (request) => {
      const caller = await requireUser(core, request);
      const query = request.query as { limit?: number; cursor?: string };
      const page = await core.store.listSessionsForUser(caller.user.id, { limit: query.limit ?? 50, cursor: query.cursor ?? null });
      return {
        sessions: page.items.map((s) => ({ ...sessionView(s), current: s.id === caller.token.sessionId })),
        next_cursor: page.nextCursor,
      };
    },
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: { tags: ['Self-service'], summary: 'Deauthorize one of your devices', security: bearer, params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } },
    },
    async (request, reply) => {
      const caller = await requireUser(core, request);
      await deauthorizeSession(core, caller, (request.params as { id: string }).id, request.ip);
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/logout',
    { schema: { tags: ['Self-service'], summary: 'Revoke the current session (or the token, if it has none)', security: bearer, response: { 204: Type.Null(), ...errors(401) } } },
    async (request, reply) => {
      const caller = await requireUser(core, request);
      await logout(core, caller, request.ip);
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/api-tokens',
    {
      schema: {
        tags: ['Self-service'],
        summary: 'A long-lived API token for you and this app; scopes at most those of the calling token',
        security: bearer,
        body: ApiTokenRequest,
        response: { 201: Type.Ref('TokenMeta'), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const caller = await requireUser(core, request);
      const body = request.body as { name: string; scopes?: string[] | string; expires_in?: number | null };
      const minted = await createApiToken(core, {
        caller,
        userId: caller.user.id,
        app: caller.app,
        request: { name: body.name, ...(body.scopes !== undefined && { scopes: body.scopes }), expiresIn: body.expires_in ?? null },
        actor: `user:${caller.user.id}`,
      });
      return reply.code(201).send({ ...tokenView(minted.record), token: minted.secret });
    },
  );

  app.get(
    '/v1/api-tokens',
    {
      schema: {
        tags: ['Self-service'],
        summary: 'Your live API tokens (metadata only)',
        security: bearer,
        querystring: Pagination,
        response: { 200: Type.Object({ api_tokens: Type.Array(Type.Ref('TokenMeta')), next_cursor: NextCursor }), ...errors(401) },
      },
    },
    async (request) => {
      const caller = await requireUser(core, request);
      const query = request.query as { limit?: number; cursor?: string };
      const page = await core.store.listTokens(
        { userId: caller.user.id, kind: 'api', activeAt: core.clock.now() },
        { limit: query.limit ?? 50, cursor: query.cursor ?? null },
      );
      return { api_tokens: page.items.map(tokenView), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/v1/api-tokens/:id',
    { schema: { tags: ['Self-service'], summary: 'Revoke one of your API tokens', security: bearer, params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } } },
    async (request, reply) => {
      const caller = await requireUser(core, request);
      await deleteApiToken(core, caller, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
}
