import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core/context.js';
import { NotFound, TokendError } from '../core/errors.js';
import { oauthError, useErrorShape } from './errors.js';

/*
 * The operator and dashboard-user web page at /dashboard (issue 8; docs/dashboard.md).
 * Static, hand-written assets from the repo's dashboard/ folder: the page talks
 * to the same JSON APIs as any client and keeps its token in memory only, so no
 * cookie exists for a cross-site request to ride on (the CSRF defence).
 */

/** Resolved from this module, so it works from src/http (tsx) and dist/http (built). */
const ASSET_DIR = new URL('../../dashboard/', import.meta.url);

/** The only files ever served: a fixed allow-list, so no path from a request reaches the file system. */
const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'apps.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'operator.js': 'text/javascript; charset=utf-8',
  'people.js': 'text/javascript; charset=utf-8',
  'user.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** No inline script or style, no eval, nothing from another origin; QR codes arrive as data: images. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(): Map<string, Asset> | null {
  const assets = new Map<string, Asset>();
  try {
    for (const [name, type] of Object.entries(ASSETS)) {
      const body = readFileSync(new URL(name, ASSET_DIR));
      assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  } catch {
    return null;
  }
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  // The files change only with a deploy; revalidating by ETag keeps a new deploy visible at once.
  reply.header('cache-control', 'no-cache').header('etag', asset.etag).header('content-type', asset.type);
  const match = request.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((tag) => tag.trim() === asset.etag)) return reply.code(304).send();
  return reply.send(asset.body);
}

/** The operator and dashboard-user web page at /dashboard (issue 8). */
export async function dashboardRoutes(app: FastifyInstance, _options: { core: Core }): Promise<void> {
  const assets = loadAssets();
  if (assets === null) {
    app.log.warn({ dir: ASSET_DIR.pathname }, 'dashboard assets not found; /dashboard is off');
    return;
  }
  const index = assets.get('index.html') as Asset;
  useErrorShape(app, oauthError);
  // Every answer of these routes, errors included, carries the page's security headers.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(SECURITY_HEADERS);
    done(null, payload);
  });
  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', 'GET, HEAD');
    throw new TokendError('invalid_request', 405, 'the dashboard answers GET and HEAD only');
  };
  const hidden = { schema: { hide: true } };

  // GET routes answer HEAD too (Fastify's exposeHeadRoutes); the trailing slash is optional app-wide.
  app.get('/dashboard', hidden, async (request, reply) => send(request, reply, index));
  app.get('/dashboard/:file', hidden, async (request, reply) => {
    const name = (request.params as { file: string }).file;
    const asset = Object.hasOwn(ASSETS, name) ? assets.get(name) : undefined;
    if (asset === undefined) throw new NotFound('dashboard file');
    return send(request, reply, asset);
  });
  for (const url of ['/dashboard', '/dashboard/:file']) {
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, ...hidden, handler: notAllowed });
  }
}
