import express, { type Express, type Request } from 'express';
import { tokendMiddleware, type TokendRequest, type Verifies } from 'tokend/sdk';

/** What nginx's `auth_request_set` passed on from tokend's forward-auth, when the API sits behind it. */
function proxyIdentity(req: Request): Record<string, string> | null {
  const user = req.header('x-tokend-user-id');
  const client = req.header('x-tokend-client-id');
  if (user === undefined && client === undefined) return null;
  return { user_id: user ?? '', client_id: client ?? '', scopes: req.header('x-tokend-scopes') ?? '', token_kind: req.header('x-tokend-token-kind') ?? '' };
}

/**
 * A small API whose routes are the seeds' resources, each guarded by the SDK
 * middleware with its own rule. It checks every token itself, behind a proxy
 * or not: forward-auth headers are shown, never trusted for access.
 */
export function createResourceServer(verifier: Verifies): Express {
  const app = express();
  app.disable('x-powered-by');
  const caller = (req: Request) => {
    const { kind, userId, clientId, scopes } = (req as unknown as TokendRequest).tokend;
    return { kind, user_id: userId, client_id: clientId, scopes, proxy: proxyIdentity(req) };
  };

  // Seed 002: install tokens, also as ?token=…&installid=… (a deep link opened on the device).
  app.get('/v3/tooltips', tokendMiddleware(verifier, { kinds: ['install', 'access', 'api'], installTokensInQuery: true }), (req, res) => {
    res.json({ tooltips: [{ id: 'welcome', text: 'Tap here to start' }], caller: caller(req) });
  });

  // Seed 003: OAuth access tokens that carry `assets:read`.
  app.get('/api/assets', tokendMiddleware(verifier, { kinds: ['access'], scopes: ['assets:read'] }), (req, res) => {
    res.json({ assets: [{ id: 'asset-1', name: 'Shelf photo' }], caller: caller(req) });
  });

  // Seed 000: service tokens a partner backend minted with its master key.
  app.get('/api/data/v1/records', tokendMiddleware(verifier, { kinds: ['service'] }), (req, res) => {
    res.json({ records: [{ id: 1, value: 42 }], caller: caller(req) });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}
