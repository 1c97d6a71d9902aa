import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createApp, deleteApp, findLiveApp, rotateClientSecret, updateApp, type AppPolicy } from '../../core/apps.js';
import type { Core } from '../../core/context.js';
import { NotFound } from '../../core/errors.js';
import { createMasterKey, revokeMasterKey } from '../../core/master-keys.js';
import type { GrantType, TokenFormat } from '../../core/model.js';
import { absentBodyIsEmpty } from '../body.js';
import { IdParam, NextCursor, Nullable, Pagination, errors } from '../schemas.js';
import { appView, iso, masterKeyView } from '../views.js';
import { operatorOf, operatorSecurity as security, pageOf, type ListQuery } from './operator.js';

const Format = Type.Union([Type.Literal('opaque'), Type.Literal('jwt')]);
const Ttl = Type.Integer({ minimum: 1, maximum: 315_360_000 });

const PolicyFields = {
  grants: Type.Optional(Type.Array(Type.Union([Type.Literal('password'), Type.Literal('refresh_token'), Type.Literal('client_credentials')]), { maxItems: 3 })),
  scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 200 })),
  access_token_format: Type.Optional(Format),
  service_token_format: Type.Optional(Format),
  audience: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 500 }))),
  access_token_ttl: Type.Optional(Ttl),
  refresh_token_ttl: Type.Optional(Ttl),
  service_token_ttl: Type.Optional(Ttl),
  install_token_ttl: Type.Optional(Ttl),
  device_token_ttl: Type.Optional(Ttl),
  refresh_reuse_grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
  deeplink_template: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
};
const CreateApp = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), ...PolicyFields }, { additionalProperties: false });
const PatchApp = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...PolicyFields }, { additionalProperties: false });
type PatchBody = Static<typeof PatchApp>;

/** The wire's snake_case app fields in the core's words; absent fields stay absent. */
export function toPolicy(body: PatchBody): Partial<AppPolicy> {
  const policy: Partial<AppPolicy> = {};
  if (body.name !== undefined) policy.name = body.name;
  if (body.grants !== undefined) policy.grants = body.grants as GrantType[];
  if (body.scopes !== undefined) policy.scopes = body.scopes;
  if (body.access_token_format !== undefined) policy.accessTokenFormat = body.access_token_format as TokenFormat;
  if (body.service_token_format !== undefined) policy.serviceTokenFormat = body.service_token_format as TokenFormat;
  if (body.audience !== undefined) policy.audience = body.audience;
  if (body.access_token_ttl !== undefined) policy.accessTokenTtl = body.access_token_ttl;
  if (body.refresh_token_ttl !== undefined) policy.refreshTokenTtl = body.refresh_token_ttl;
  if (body.service_token_ttl !== undefined) policy.serviceTokenTtl = body.service_token_ttl;
  if (body.install_token_ttl !== undefined) policy.installTokenTtl = body.install_token_ttl;
  if (body.device_token_ttl !== undefined) policy.deviceTokenTtl = body.device_token_ttl;
  if (body.refresh_reuse_grace_seconds !== undefined) policy.refreshReuseGraceSeconds = body.refresh_reuse_grace_seconds;
  if (body.deeplink_template !== undefined) policy.deeplinkTemplate = body.deeplink_template;
  return policy;
}

const MasterKeyBody = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  name: Nullable(Type.String()),
  created_at: Type.String(),
  revoked_at: Nullable(Type.String()),
  last_used_at: Nullable(Type.String()),
  key: Type.Optional(Type.String({ description: 'the master key, only in the answer that made it' })),
});

export async function appRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  const tags = ['Operator: apps'];
  const liveApp = async (id: string) => {
    const found = await findLiveApp(core, id);
    if (found === null) throw new NotFound('app');
    return found;
  };

  app.post('/apps', { schema: { tags, security, summary: 'Create an app; its client_secret is shown once', body: CreateApp, response: { 201: Type.Ref('App'), ...errors(400, 401) } } }, async (request, reply) => {
    const body = request.body as Static<typeof CreateApp>;
    const { app: created, clientSecret } = await createApp(core, { ...toPolicy(body), name: body.name }, operatorOf(request));
    return reply.code(201).send({ ...appView(created), client_secret: clientSecret });
  });

  app.get('/apps', { schema: { tags, security, summary: 'List apps', querystring: Pagination, response: { 200: Type.Object({ apps: Type.Array(Type.Ref('App')), next_cursor: NextCursor }), ...errors(401) } } }, async (request) => {
    const page = await core.store.listApps(pageOf(request.query as ListQuery));
    return { apps: page.items.map(appView), next_cursor: page.nextCursor };
  });

  app.get('/apps/:id', { schema: { tags, security, summary: 'One app, by id or client_id', params: IdParam, response: { 200: Type.Ref('App'), ...errors(401, 404) } } }, async (request) =>
    appView(await liveApp((request.params as { id: string }).id)),
  );

  app.patch('/apps/:id', { schema: { tags, security, summary: 'Change an app\'s name or token policy', params: IdParam, body: PatchApp, response: { 200: Type.Ref('App'), ...errors(400, 401, 404) } } }, async (request) => {
    const found = await liveApp((request.params as { id: string }).id);
    return appView(await updateApp(core, found.id, toPolicy(request.body as PatchBody), operatorOf(request)));
  });

  app.delete('/apps/:id', { schema: { tags, security, summary: 'Delete an app: every token, session and master key of it dies at once', params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } } }, async (request, reply) => {
    const found = await liveApp((request.params as { id: string }).id);
    await deleteApp(core, found.id, operatorOf(request));
    return reply.code(204).send();
  });

  app.post('/apps/:id/secret', { schema: { tags, security, summary: 'Rotate the client secret; the old one stops working at once', params: IdParam, response: { 200: Type.Ref('App'), ...errors(401, 404) } } }, async (request) => {
    const found = await liveApp((request.params as { id: string }).id);
    const { app: rotated, clientSecret } = await rotateClientSecret(core, found.id, operatorOf(request));
    return { ...appView(rotated), client_secret: clientSecret };
  });

  app.post(
    '/apps/:id/master-keys',
    { preValidation: absentBodyIsEmpty, schema: { tags, security, summary: 'Create a master key; shown once', params: IdParam, body: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })), response: { 201: MasterKeyBody, ...errors(400, 401, 404) } } },
    async (request, reply) => {
      const found = await liveApp((request.params as { id: string }).id);
      const name = (request.body as { name?: string } | undefined)?.name ?? null;
      const { key, secret } = await createMasterKey(core, found.id, name, operatorOf(request));
      return reply.code(201).send({ ...masterKeyView(key), key: secret, created_at: iso(key.createdAt) });
    },
  );

  app.get('/apps/:id/master-keys', { schema: { tags, security, summary: 'An app\'s master keys (never the keys themselves)', params: IdParam, querystring: Pagination, response: { 200: Type.Object({ master_keys: Type.Array(MasterKeyBody), next_cursor: NextCursor }), ...errors(401, 404) } } }, async (request) => {
    const found = await liveApp((request.params as { id: string }).id);
    const page = await core.store.listMasterKeys(found.id, pageOf(request.query as ListQuery));
    return { master_keys: page.items.map(masterKeyView), next_cursor: page.nextCursor };
  });

  app.delete('/master-keys/:id', { schema: { tags, security, summary: 'Revoke a master key and every service token it minted', params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } } }, async (request, reply) => {
    await revokeMasterKey(core, (request.params as { id: string }).id, operatorOf(request));
    return reply.code(204).send();
  });
}
