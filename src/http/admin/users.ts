import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findLiveApp } from '../../core/apps.js';
import type { Core } from '../../core/context.js';
import { InvalidRequest, NotFound } from '../../core/errors.js';
import { MAX_PASSWORD_LENGTH } from '../../core/passwords.js';
import { revokeSessionById } from '../../core/revocation.js';
import { createApiToken } from '../../core/self-service.js';
import { changePassword, createUser, deleteUser, setUserDisabled } from '../../core/users.js';
import { ApiTokenRequest, IdParam, NextCursor, Nullable, Pagination, errors } from '../schemas.js';
import { sessionView, tokenView, userView } from '../views.js';
import { operatorOf, operatorSecurity as security, pageOf, type ListQuery } from './operator.js';

const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
const CreateUser = Type.Object({ username: Type.String({ minLength: 1, maxLength: 200 }), password: Password }, { additionalProperties: false });
const PatchUser = Type.Object({ disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Password) }, { additionalProperties: false });
const UserId = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const AdminApiToken = Type.Object(
  { app_id: Type.String({ minLength: 1, maxLength: 100 }), name: ApiTokenRequest.properties.name, scopes: ApiTokenRequest.properties.scopes, expires_in: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))) },
  { additionalProperties: false },
);

export async function userRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  const tags = ['Operator: users'];
  const userOf = async (id: number) => {
    const user = await core.store.findUserById(id);
    if (user === null) throw new NotFound('user');
    return user;
  };

  app.post('/users', { schema: { tags, security, summary: 'Create a user', body: CreateUser, response: { 201: Type.Ref('User'), ...errors(400, 401, 409) } } }, async (request, reply) => {
    const user = await createUser(core, request.body as Static<typeof CreateUser>, operatorOf(request));
    return reply.code(201).send(userView(user));
  });

  app.get('/users', { schema: { tags, security, summary: 'List users', querystring: Pagination, response: { 200: Type.Object({ users: Type.Array(Type.Ref('User')), next_cursor: NextCursor }), ...errors(401) } } }, async (request) => {
    const page = await core.store.listUsers(pageOf(request.query as ListQuery));
    return { users: page.items.map(userView), next_cursor: page.nextCursor };
  });

  app.get('/users/:id', { schema: { tags, security, summary: 'One user', params: UserId, response: { 200: Type.Ref('User'), ...errors(401, 404) } } }, async (request) =>
    userView(await userOf((request.params as { id: number }).id)),
  );

  app.patch(
    '/users/:id',
    { schema: { tags, security, summary: 'Disable or enable a user (disabling kills every token at once), or set a new password (ends every session)', params: UserId, body: PatchUser, response: { 200: Type.Ref('User'), ...errors(400, 401, 404) } } },
    async (request) => {
      const { id } = request.params as { id: number };
      const body = request.body as Static<typeof PatchUser>;
      if (body.disabled === undefined && body.password === undefined) throw new InvalidRequest('give disabled or password');
      let user = await userOf(id);
      if (body.password !== undefined) user = await changePassword(core, id, body.password, operatorOf(request));
      if (body.disabled !== undefined) user = await setUserDisabled(core, id, body.disabled, operatorOf(request));
      return userView(user);
    },
  );

  app.delete('/users/:id', { schema: { tags, security, summary: 'Delete a user and revoke everything it held', params: UserId, response: { 204: Type.Null(), ...errors(401, 404) } } }, async (request, reply) => {
    await deleteUser(core, (request.params as { id: number }).id, operatorOf(request));
    return reply.code(204).send();
  });

  app.get(
    '/users/:id/sessions',
    { schema: { tags, security, summary: "A user's live sessions by device", params: UserId, querystring: Pagination, response: { 200: Type.Object({ sessions: Type.Array(Type.Ref('Session')), next_cursor: NextCursor }), ...errors(401, 404) } } },
    async (request) => {
      const user = await userOf((request.params as { id: number }).id);
      const page = await core.store.listSessionsForUser(user.id, pageOf(request.query as ListQuery));
      return { sessions: page.items.map(sessionView), next_cursor: page.nextCursor };
    },
  );

  app.delete('/sessions/:id', { schema: { tags, security, summary: 'Deauthorize a session: all its tokens die', params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } } }, async (request, reply) => {
    await revokeSessionById(core, (request.params as { id: string }).id, operatorOf(request), request.ip);
    return reply.code(204).send();
  });

  app.post(
    '/users/:id/api-tokens',
    { schema: { tags, security, summary: 'An API token for this user and app; shown once', params: UserId, body: AdminApiToken, response: { 201: Type.Ref('TokenMeta'), ...errors(400, 401, 403, 404) } } },
    async (request, reply) => {
      const user = await userOf((request.params as { id: number }).id);
      const body = request.body as Static<typeof AdminApiToken>;
      const found = await findLiveApp(core, body.app_id);
      if (found === null) throw new NotFound('app');
      const minted = await createApiToken(core, {
        caller: null,
        userId: user.id,
        app: found,
        request: { name: body.name, ...(body.scopes !== undefined && { scopes: body.scopes }), expiresIn: body.expires_in ?? null },
        actor: operatorOf(request) as `operator:${string}`,
      });
      return reply.code(201).send({ ...tokenView(minted.record), token: minted.secret });
    },
  );
}
