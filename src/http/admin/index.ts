import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/context.js';
import { requireOperator } from '../auth.js';
import { oauthError, useErrorShape } from '../errors.js';
import { appRoutes } from './apps.js';
import { setOperator } from './operator.js';
import { keyAndAuditRoutes } from './keys.js';
import { tokenRoutes } from './tokens.js';
import { userRoutes } from './users.js';

/** SPEC §7: `/admin/v1/…`, every route behind an operator token. */
export async function adminRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);
  app.addHook('onRequest', async (request) => {
    const operator = await requireOperator(core, request);
    setOperator(request, `operator:${operator.id}`);
  });
  await app.register(appRoutes, { core });
  await app.register(userRoutes, { core });
  await app.register(tokenRoutes, { core });
  await app.register(keyAndAuditRoutes, { core });
}
