import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/context.js';
import { deviceLoginDialect } from './device-login.js';
import { installTokenDialect } from './install-token.js';
import { jsonApiDialect } from './jsonapi.js';
import { masterKeyDialect } from './master-key.js';

/**
 * The seed documents' token APIs (SPEC §5), each a thin translation: parse its
 * request shape, call the core's verbs, render its response and error shape.
 * Seed 003 needs no file of its own: it is /oauth/token with a JSON body.
 */
export async function dialectRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  await app.register(masterKeyDialect, { core }); // seed 000
  await app.register(jsonApiDialect, { core }); // seed 001
  await app.register(installTokenDialect, { core }); // seed 002
  await app.register(deviceLoginDialect, { core }); // seed 004
}
