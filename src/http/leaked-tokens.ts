import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/context.js';
import { InvalidRequest, RateLimited } from '../core/errors.js';
import { LEAK_REPORT_BATCH, LEAK_REPORT_LIMIT, reportLeakedToken } from '../core/leaked-tokens.js';
import { oauthError, useErrorShape } from './errors.js';
import { errors } from './schemas.js';

const LeakReportBody = Type.Object(
  {
    token: Type.Optional(Type.String({ description: 'One secret the scanner found' })),
    tokens: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: LEAK_REPORT_BATCH, description: 'Or up to 100 of them (JSON only)' })),
  },
  // Scanners add their own fields (where the match was found, …); they are ignored.
  { additionalProperties: true },
);

const RECEIVED = { received: true } as const;

/**
 * `POST /v1/leaked-tokens`: anyone who finds a tokend secret reports it, with
 * no authentication. The answer never depends on what the secret was, so the
 * endpoint tells a finder nothing a guess could use.
 */
export async function leakedTokenRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);

  app.post(
    '/v1/leaked-tokens',
    {
      schema: {
        tags: ['Self-service'],
        summary: 'Report a tokend secret found in the open; a live one is revoked. The answer is the same whatever it was',
        consumes: ['application/json', 'application/x-www-form-urlencoded'],
        body: LeakReportBody,
        response: { 202: Type.Object({ received: Type.Literal(true) }), ...errors(400, 413, 415, 429) },
      },
      // Counted before the body is read, so a flood costs neither parsing nor lookups.
      onRequest: async (request) => {
        const wait = await core.limiter.take([{ key: `leak-report:ip:${request.ip}`, limit: LEAK_REPORT_LIMIT.perIp }], LEAK_REPORT_LIMIT.windowSeconds);
        if (wait > 0) throw new RateLimited(wait);
      },
    },
    async (request, reply) => {
      const body = request.body as { token?: string; tokens?: string[] };
      if ((body.token === undefined) === (body.tokens === undefined)) throw new InvalidRequest('give either token or tokens');
      const presented = body.tokens ?? [body.token!];
      for (const secret of presented) await reportLeakedToken(core, { presented: secret, ip: request.ip });
      return reply.code(202).send(RECEIVED);
    },
  );
}
