import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deeplinkFor } from '../../core/apps.js';
import type { Core } from '../../core/context.js';
import { InvalidClient, InvalidRequest } from '../../core/errors.js';
import type { App, MasterKey } from '../../core/model.js';
import { authenticateMasterKey, issueServiceToken, revokeServiceToken } from '../../core/service-tokens.js';
import { authorizationCredential } from '../auth.js';
import { acceptNoBody } from '../body.js';
import { sendError, toTokendError } from '../errors.js';
import { OAuthParams } from '../schemas.js';
import { detailError, detailErrors, isoSeconds } from './common.js';

/*
 * Seed 000 (SPEC §5.1): a partner backend trades its master key for service
 * tokens. The seed's API is Django REST Framework-like, so this dialect speaks
 * DRF's dialect of errors too: `{detail}`, and `WWW-Authenticate: Token` on 401.
 */

/** DRF's TokenAuthentication challenge: the scheme the seed documents. */
const CHALLENGE = 'Token realm="tokend"';

const ServiceToken = Type.Object({
  token: Type.String({ description: 'the new service token (opaque `tks_…`, or a JWT if the app\'s service_token_format is jwt)' }),
  created_at: Type.String({ description: 'ISO 8601, UTC, to the second' }),
  expires_at: Type.String({ description: 'ISO 8601, UTC, to the second' }),
  deeplink: Type.String({ description: "the app's deeplink_template with this token in it" }),
});

const AUTH_NOTE = 'Authenticate with `Authorization: Token <master key>` (`Bearer` is accepted too).';

interface MasterKeyCall {
  key: MasterKey;
  app: App;
}

const callers = new WeakMap<FastifyRequest, MasterKeyCall>();

/**
 * The master key a request presents, as `Token <key>` (the seed) or `Bearer
 * <key>`. Every failure is the same 401, whatever the reason: unknown, revoked,
 * or its app deleted.
 */
async function authenticate(core: Core, request: FastifyRequest): Promise<MasterKeyCall> {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') throw new InvalidClient('Authentication credentials were not provided.');
  const presented = authorizationCredential(request, { token: true });
  if (presented === null) throw new InvalidClient('Invalid Authorization header: send "Token <master key>".');
  const found = await authenticateMasterKey(core, presented);
  if (found === null) throw new InvalidClient('Invalid master key.');
  return found;
}

function callerOf(request: FastifyRequest): MasterKeyCall {
  const caller = callers.get(request);
  if (caller === undefined) throw new Error('master-key route reached without the master-key guard');
  return caller;
}

/** The token to revoke: the seed names the field `Token`; `token` is what clients usually send. One of them, once. */
function tokenToRevoke(body: Record<string, string | undefined>): string {
  const { token, Token: capitalised } = body;
  if (token !== undefined && capitalised !== undefined) throw new InvalidRequest('send the token as "token" or "Token", not both');
  const presented = token ?? capitalised;
  if (presented === undefined || presented === '') throw new InvalidRequest('token is required');
  return presented;
}

/** `/api/auth/v1.0/get_token/` and `/api/auth/v1.0/revoke_token/` (seed 000). */
export async function masterKeyDialect(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  app.setErrorHandler((error, request, reply: FastifyReply) => {
    if (toTokendError(error).status === 401) reply.header('www-authenticate', CHALLENGE);
    return sendError(request, reply, error, detailError);
  });

  // The seed's get_token sends no body; clients often still say `Content-Type: application/json`.
  acceptNoBody(app);

  // The master key is checked before the body is parsed: without a good one, every request is the same 401.
  app.addHook('onRequest', async (request) => {
    callers.set(request, await authenticate(core, request));
  });
  app.post(
    '/api/auth/v1.0/get_token/',
    {
      schema: {
        tags: ['Seed 000: master-key service tokens'],
        summary: 'Mint a new service token with a master key; earlier tokens stay valid',
        // No body schema: the seed sends none, and a schema would make the OpenAPI document require one.
        description: AUTH_NOTE + ' No body is needed; the fields of a JSON object or form body are ignored.',
        response: { 201: ServiceToken, ...detailErrors(400, 401, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { key, app: client } = callerOf(request);
      if (typeof request.body !== 'object' || Array.isArray(request.body)) throw new InvalidRequest('the body must be an object, or absent');
      const { secret, record } = await issueServiceToken(core, { key, app: client, ip: request.ip });
      if (record.expiresAt === null) throw new Error('a service token always expires');
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('pragma', 'no-cache')
        .send({
          token: secret,
          created_at: isoSeconds(record.createdAt),
          expires_at: isoSeconds(record.expiresAt),
          deeplink: deeplinkFor(client, secret),
        });
    },
  );

  app.post(
    '/api/auth/v1.0/revoke_token/',
    {
      schema: {
        tags: ['Seed 000: master-key service tokens'],
        summary: "Revoke a service token of the master key's app; any other token is left alone, with the same answer",
        description: AUTH_NOTE + ' The token goes in the body as `token` or `Token`, JSON or form.',
        consumes: ['application/json', 'application/x-www-form-urlencoded'],
        body: OAuthParams(['token', 'Token']),
        response: { 200: Type.Object({ revoked: Type.Literal(true) }), ...detailErrors(400, 401, 413, 415, 503) },
      },
    },
    async (request) => {
      const { key, app: client } = callerOf(request);
      await revokeServiceToken(core, { key, app: client, presented: tokenToRevoke(request.body as Record<string, string | undefined>), ip: request.ip });
      // Like RFC 7009 §2.2: unknown, foreign and already-revoked tokens get the same answer.
      return { revoked: true };
    },
  );
}
