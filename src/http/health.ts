import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/context.js';
import { ServiceUnavailable } from '../core/errors.js';
import { oauthError, useErrorShape } from './errors.js';

/** /healthz: the process answers. /readyz: the store answers too. */
export async function healthRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);
  app.get('/healthz', { schema: { tags: ['Operations'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['Operations'], summary: 'The store is reachable, and Redis delivers revocations when configured' } }, async () => {
    try {
      await core.store.ping();
    } catch {
      throw new ServiceUnavailable('the token store is unreachable');
    }
    // A node without proven revocation delivery still answers correctly (it reads the store), but slower:
    // tell the load balancer so it can prefer the others.
    if (!core.bus.trusted) throw new ServiceUnavailable('Redis is configured but revocation delivery cannot be proven');
    return { status: 'ok' };
  });
}
