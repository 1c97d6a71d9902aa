import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/context.js';
import { ServiceUnavailable } from '../core/errors.js';
import { oauthError, useErrorShape } from './errors.js';

/** /healthz: the process answers. /readyz: the store answers too. */
export async function healthRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);
  app.get('/healthz', { schema: { tags: ['Operations'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['Operations'], summary: 'The store is reachable' } }, async () => {
    try {
      await core.store.ping();
    } catch {
      throw new ServiceUnavailable();
    }
    return { status: 'ok' };
  });
}
