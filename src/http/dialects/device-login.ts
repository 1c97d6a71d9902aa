import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/context.js';
import { InvalidRequest, LoginFailed } from '../../core/errors.js';
import { checkDeviceInfo, MAX_DEVICE_INFO } from '../../core/issuance.js';
import { loginWithPassword } from '../../core/login.js';
import { acceptNoBody } from '../body.js';
import { clientGone } from '../client-gone.js';
import { sendError, type ErrorRenderer } from '../errors.js';
import { dialectApp, invalidGrantAs401, mergeParams, unixSeconds, type Params } from './common.js';

/*
 * Seed 004 (SPEC §5.5): `POST /v1/oauth/` trades a username and password, given
 * as query parameters, form fields or JSON, for a 30-day opaque access token
 * whose session is named by the client's `device-info`.
 */

const DEBUG_DESCRIPTION = '0 or 1. Only when TOKEND_ENV=development; in production it is ignored and changes nothing.';

const paramSchema = {
  username: Type.Optional(Type.String({ maxLength: 8192, description: 'required, here or in the query' })),
  password: Type.Optional(Type.String({ maxLength: 8192, description: 'required, here or in the query' })),
  'device-info': Type.Optional(Type.String({ maxLength: MAX_DEVICE_INFO, description: 'names the session; default "Unknown"' })),
  client_id: Type.Optional(Type.String({ maxLength: 8192, description: 'the app; default: the `default` app' })),
};

const DeviceLoginQuery = Type.Object({ ...paramSchema, debug: Type.Optional(Type.String({ description: DEBUG_DESCRIPTION })) }, { additionalProperties: true });

// `debug` is left unconstrained here: in production it must not be able to change the answer, not even into a 400.
const DeviceLoginBody = Type.Object({ ...paramSchema, debug: Type.Optional(Type.Unknown({ description: DEBUG_DESCRIPTION })) }, { additionalProperties: true });

const Debug = Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'development only: why the login failed, or the session made' }));

const DeviceLoginSuccess = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    access_token: Type.String({ description: 'an opaque `tka_` token' }),
    expiry: Type.Integer({ description: 'Unix seconds' }),
  }),
  debug: Debug,
});

const DeviceLoginFailure = Type.Object({
  success: Type.Literal(false),
  errors: Type.Object({ code: Type.String(), message: Type.String() }),
  debug: Debug,
});

const failure: ErrorRenderer = (error) => ({ success: false, errors: { code: error.code, message: error.description } });


/** What debug mode tells about a failure. Never reached in production. */
function failureDebug(error: unknown): Record<string, string> | null {
  if (!(error instanceof LoginFailed)) return null;
  switch (error.reason) {
    case 'unknown_user':
      return { username: 'Username not found' };
    case 'wrong_password':
      return { password: 'Password incorrect' };
    case 'disabled':
      return { username: 'User is disabled' };
  }
}

export async function deviceLoginDialect(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, invalidGrantAs401(error), failure));
  // The seed's own client puts everything in the query string and sends no body, often still saying
  // `Content-Type: application/json`.
  acceptNoBody(app);

  app.post(
    '/v1/oauth/',
    {
      schema: {
        tags: ['Seed 004: opaque tokens with device info'],
        summary: 'Seed 004: username and password to a 30-day opaque token for one device',
        description:
          'Parameters as query string, form fields or JSON, in any mix; a name given in two places is 400. ' +
          'The body may be absent or empty. Also answers at /v1/oauth. The query string is never logged.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        querystring: DeviceLoginQuery,
        body: DeviceLoginBody,
        response: { 200: DeviceLoginSuccess, ...Object.fromEntries([400, 401, 413, 415, 429, 503].map((code) => [code, DeviceLoginFailure])) },
      },
    },
    async (request, reply) => {
      const { params, debug } = readParams(core, request);
      try {
        const username = required(params, 'username');
        const password = required(params, 'password');
        // Checked before the slow hash, so an over-long device-info is 400 whatever the credentials.
        const deviceInfo = checkDeviceInfo(params['device-info']);
        const target = await dialectApp(core, params.client_id);
        const { session, set } = await loginWithPassword(core, {
          app: target,
          username,
          password,
          deviceInfo,
          ip: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
          door: 'v1-oauth',
          gone: clientGone(request),
          accessFormat: 'opaque',
          accessTtl: target.deviceTokenTtl,
          refresh: false,
        });
        return reply.header('cache-control', 'no-store').send({
          success: true,
          data: { access_token: set.accessToken, expiry: unixSeconds(set.expiresAt) },
          ...(debug && { debug: { session_id: session.id } }),
        });
      } catch (error) {
        const told = debug ? failureDebug(error) : null;
        if (told === null) throw error;
        return sendError(request, reply, invalidGrantAs401(error), (mapped) => ({ ...(failure(mapped) as object), debug: told }));
      }
    },
  );
}

/**
 * Query and body merged into one set of string parameters, and whether debug
 * mode is on. In production `debug` is dropped before anything looks at it, so
 * that no value of it, however malformed, changes a byte of the answer.
 */
function readParams(core: Core, request: FastifyRequest): { params: Params; debug: boolean } {
  const development = core.settings.env === 'development';
  const [query, body] = [request.query, jsonDebugAsText(request.body)].map((source) => (development ? source : withoutDebug(source)));
  const params = mergeParams(query, body);
  const debug = params.debug;
  if (debug !== undefined && debug !== '0' && debug !== '1') throw new InvalidRequest('debug must be 0 or 1');
  return { params, debug: development && debug === '1' };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The seed types `debug` as an int, so a JSON client may well send `"debug": 1`. */
function jsonDebugAsText(body: unknown): unknown {
  return isRecord(body) && typeof body.debug === 'number' ? { ...body, debug: String(body.debug) } : body;
}

function withoutDebug(source: unknown): unknown {
  if (!isRecord(source) || !Object.hasOwn(source, 'debug')) return source;
  const { debug: _ignored, ...rest } = source;
  return rest;
}

function required(params: Params, name: 'username' | 'password'): string {
  const value = params[name];
  if (value === undefined || value === '') throw new InvalidRequest(`${name} is required`);
  return value;
}
