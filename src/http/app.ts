import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import type { DestinationStream, Logger } from 'pino';
import type { Core } from '../core/context.js';
import type { ForwardAuthRule } from '../core/forward-auth-rules.js';
import { InvalidRequest, NotFound } from '../core/errors.js';
import { atTurnEnd } from '../core/turn-end.js';
import { adminRoutes } from './admin/index.js';
import { dashboardRoutes } from './dashboard.js';
import { dialectRoutes } from './dialects/index.js';
import { forwardAuthRoutes } from './forward-auth.js';
import { revocationFeedRoutes } from './revocation-feed.js';
import { jsonApiError } from './dialects/jsonapi.js';
import { BODY_LIMIT, lingerAfterRefusal, parseParams, registerBodyParsers, rejectDuplicates } from './body.js';
import { oauthError, sendError } from './errors.js';
import { healthRoutes } from './health.js';
import { leakedTokenRoutes } from './leaked-tokens.js';
import { loggerOptions } from './logging.js';
import { meRoutes } from './me.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { oauthRoutes } from './oauth.js';
import { SHARED_SCHEMAS } from './schemas.js';

export interface AppOptions {
  core: Core;
  logLevel?: string;
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
  /** Proxy addresses whose X-Forwarded-For is believed. */
  trustProxy?: readonly string[];
  version?: string;
  /** When set, GET /metrics wants it as a Bearer token (TOKEND_METRICS_TOKEN); open otherwise. */
  metricsToken?: string | null;
  /** Route rules of GET /v1/forward-auth (TOKEND_FORWARD_AUTH_RULES); null or absent keeps the default rule. */
  forwardAuthRules?: readonly ForwardAuthRule[] | null;
}

/**
 * Builds the HTTP app around a core. It never listens: the CLI does, and tests
 * use `inject` or listen on a loopback port themselves.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { core } = options;
  const app = Fastify({
    logger: loggerOptions(options.logLevel ?? 'info', options.logStream),
    bodyLimit: BODY_LIMIT,
    trustProxy: options.trustProxy !== undefined && options.trustProxy.length > 0 ? [...options.trustProxy] : false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200, querystringParser: (text: string) => parseParams(text) },
    return503OnClosing: true,
    // The router's own refusals (an id over maxParamLength, a path that does not
    // percent-decode) would otherwise answer in Fastify's shape and echo the path.
    // No route matched, so the shape follows the path: only these doors have params.
    frameworkErrors: (error, request, reply) => {
      const mapped = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new NotFound('route') : error.code === 'FST_ERR_BAD_URL' ? new InvalidRequest('the URL is not valid') : error;
      return sendError(request, reply, mapped, request.url.startsWith('/api/auth/v1/') ? jsonApiError : oauthError);
    },
    forceCloseConnections: 'idle',
  });

  // Bodies are validated strictly (a number is not a password); URL parts may be coerced ("50" → 50).
  const bodyAjv = new Ajv.default({ coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const urlAjv = new Ajv.default({ coerceTypes: true, useDefaults: true, removeAdditional: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : urlAjv).compile(schema));

  // A request's child logger serializes its reqId binding; below `info` no request is logged, and an
  // error's own line names the request, so the child would cost half a microsecond per request for nothing.
  if (!(app.log as Logger).isLevelEnabled('info')) app.setChildLoggerFactory((logger) => logger);
  registerBodyParsers(app);
  // Hooks that run on every request are callback hooks: an async hook costs a promise per request.
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      rejectDuplicates(request.query as object, 'query');
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  // While draining (SIGTERM), each answer closes its connection so keep-alive sockets do not hold shutdown open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // One onSend hook for every answer: each hook is a step of Fastify's hook runner, on every request.
  app.addHook('onSend', (request, reply, payload, done) => {
    lingerAfterRefusal(request, reply);
    if (closing) reply.header('connection', 'close');
    reply.header('x-content-type-options', 'nosniff');
    // SPEC §9: any answer to a request with a token in its URL, errors included, is private.
    const query = request.query as Record<string, unknown> | undefined;
    if (query?.token !== undefined || query?.access_token !== undefined) reply.header('cache-control', 'private, no-store');
    else if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  // Each connection's writes go out at the end of the event loop's turn, with the turn's other answers
  // (src/core/turn-end.ts says why). Below Fastify: a reply counts as sent once it is handed to the socket.
  app.server.on('connection', writeAtTurnEnd);
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tokend',
        version: options.version ?? '0.0.0',
        description: 'Issues, renews, verifies and revokes tokens: OAuth 2.0 and five compatible token APIs on one store.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A user token; `Token <key>` is accepted too' },
          operator: { type: 'http', scheme: 'bearer', description: 'An operator token' },
          client: { type: 'http', scheme: 'basic', description: 'client_id and client_secret' },
          metrics: { type: 'http', scheme: 'bearer', description: 'TOKEND_METRICS_TOKEN, when it is set' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, deepLinking: false },
    staticCSP: true,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { core });
  const metrics = new Metrics(core);
  const unsubscribe = metrics.subscribe();
  app.addHook('onClose', async () => unsubscribe());
  await app.register(metricsRoutes, { metrics, token: options.metricsToken ?? null });
  await app.register(oauthRoutes, { core });
  await app.register(meRoutes, { core });
  await app.register(leakedTokenRoutes, { core });
  await app.register(adminRoutes, { core, prefix: '/admin/v1' });
  await app.register(dialectRoutes, { core });
  await app.register(dashboardRoutes, { core });
  await app.register(forwardAuthRoutes, { core, rules: options.forwardAuthRules ?? null });
  await app.register(revocationFeedRoutes, { core });

  app.setNotFoundHandler((request, reply) => sendError(request, reply, new NotFound('route'), oauthError));
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error, oauthError));
  return app;
}

/**
 * A connection whose writes wait for the end of the turn: the socket's own
 * `_write` and `_writev` run there. A stream counts a write as under way until
 * its callback, so later writes queue behind it in order.
 */
function writeAtTurnEnd(socket: Socket): void {
  const write = socket._write;
  const writev = socket._writev!;
  const later = (run: () => void, callback: (error?: Error | null) => void) =>
    atTurnEnd(() => {
      try {
        run();
      } catch (error) {
        callback(error as Error); // the stream's own error path: the socket is destroyed
      }
    });
  socket._write = (chunk, encoding, callback) => later(() => write.call(socket, chunk, encoding, callback), callback);
  socket._writev = (chunks, callback) => later(() => writev.call(socket, chunks, callback), callback);
}
