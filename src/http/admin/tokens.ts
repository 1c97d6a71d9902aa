import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/context.js';
import { revokeTokenById } from '../../core/revocation.js';
import type { TokenKind } from '../../core/tokens.js';
import { IdParam, NextCursor, Pagination, errors } from '../schemas.js';
import { tokenView } from '../views.js';
import { operatorOf, operatorSecurity as security, pageOf, type ListQuery } from './operator.js';

const TokenQuery = Type.Object({
  ...Pagination.properties,
  user_id: Type.Optional(Type.Integer({ minimum: 1 })),
  app_id: Type.Optional(Type.String({ maxLength: 100 })),
  kind: Type.Optional(Type.Union(['access', 'refresh', 'service', 'install', 'api'].map((k) => Type.Literal(k)))),
  active: Type.Optional(Type.Boolean({ description: 'only tokens neither revoked, used nor expired' })),
});

export async function tokenRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  const tags = ['Operator: tokens'];

  app.get('/tokens', { schema: { tags, security, summary: 'Token metadata, newest first (never secrets)', querystring: TokenQuery, response: { 200: Type.Object({ tokens: Type.Array(Type.Ref('TokenMeta')), next_cursor: NextCursor }), ...errors(400, 401) } } }, async (request) => {
    const query = request.query as ListQuery & { user_id?: number; app_id?: string; kind?: TokenKind; active?: boolean };
    const page = await core.store.listTokens(
      {
        ...(query.user_id !== undefined && { userId: query.user_id }),
        ...(query.app_id !== undefined && { appId: query.app_id }),
        ...(query.kind !== undefined && { kind: query.kind }),
        ...(query.active === true && { activeAt: core.clock.now() }),
      },
      pageOf(query),
    );
    return { tokens: page.items.map(tokenView), next_cursor: page.nextCursor };
  });

  app.delete('/tokens/:id', { schema: { tags, security, summary: 'Revoke a token (a refresh token takes its session with it)', params: IdParam, response: { 204: Type.Null(), ...errors(401, 404) } } }, async (request, reply) => {
    await revokeTokenById(core, (request.params as { id: string }).id, operatorOf(request));
    return reply.code(204).send();
  });
}
