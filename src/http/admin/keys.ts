import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/context.js';
import { InvalidRequest } from '../../core/errors.js';
import type { SigningAlg } from '../../core/model.js';
import { rotateSigningKeys } from '../../core/signing.js';
import { absentBodyIsEmpty } from '../body.js';
import { NextCursor, Nullable, Pagination, errors } from '../schemas.js';
import { auditView, iso } from '../views.js';
import { operatorOf, operatorSecurity as security, pageOf, type ListQuery } from './operator.js';

const SigningKeyBody = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.String({ description: 'current, next (published, not yet signing) or retired' }),
  created_at: Type.String(),
  activated_at: Nullable(Type.String()),
  retired_at: Nullable(Type.String()),
  published_until: Nullable(Type.String()),
});

const AuditQuery = Type.Object({
  ...Pagination.properties,
  action: Type.Optional(Type.String({ maxLength: 100 })),
  app_id: Type.Optional(Type.String({ maxLength: 100 })),
  user_id: Type.Optional(Type.Integer({ minimum: 1 })),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time' })),
});

export async function keyAndAuditRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  const keyList = () => ({
    keys: core.keys.list().map((k) => ({
      kid: k.kid,
      alg: k.alg,
      state: k.state,
      created_at: iso(k.createdAt),
      activated_at: iso(k.activatedAt),
      retired_at: iso(k.retiredAt),
      published_until: iso(k.publishedUntil),
    })),
  });

  app.get('/signing-keys', { schema: { tags: ['Operator: keys'], security, summary: 'Signing keys (metadata; key material never leaves the server)', response: { 200: Type.Object({ keys: Type.Array(SigningKeyBody) }), ...errors(401) } } }, async () => {
    await core.keys.load();
    return keyList();
  });

  app.post(
    '/signing-keys/rotate',
    {
      preValidation: absentBodyIsEmpty,
      schema: {
        tags: ['Operator: keys'],
        security,
        summary: 'Promote the pre-published next key; the old key stays in the JWKS until its tokens have expired',
        body: Type.Optional(Type.Object({ alg: Type.Optional(Type.Union([Type.Literal('ES256'), Type.Literal('RS256'), Type.Literal('EdDSA')])) }, { additionalProperties: false })),
        response: { 200: Type.Object({ kid: Type.String(), alg: Type.String(), keys: Type.Array(SigningKeyBody) }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const alg = (request.body as { alg?: SigningAlg } | undefined)?.alg;
      const rotated = await rotateSigningKeys(core, alg, operatorOf(request));
      return { ...rotated, ...keyList() };
    },
  );

  app.get(
    '/audit',
    { schema: { tags: ['Operator: audit'], security, summary: 'The audit log, newest first', querystring: AuditQuery, response: { 200: Type.Object({ events: Type.Array(Type.Object({}, { additionalProperties: true })), next_cursor: NextCursor }), ...errors(400, 401) } } },
    async (request) => {
      const query = request.query as ListQuery & { action?: string; app_id?: string; user_id?: number; since?: string };
      const since = query.since === undefined ? undefined : Date.parse(query.since);
      if (since !== undefined && Number.isNaN(since)) throw new InvalidRequest('since must be an ISO 8601 time');
      const page = await core.store.listAudit(
        {
          ...(query.action !== undefined && { action: query.action }),
          ...(query.app_id !== undefined && { appId: query.app_id }),
          ...(query.user_id !== undefined && { userId: query.user_id }),
          ...(since !== undefined && { since }),
        },
        pageOf(query),
      );
      return { events: page.items.map(auditView), next_cursor: page.nextCursor };
    },
  );
}
