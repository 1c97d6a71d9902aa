import type { Core } from './context.js';
import { InsufficientScope, InvalidRequest, NotFound } from './errors.js';
import { mintToken } from './issuance.js';
import type { App, Token } from './model.js';
import { endSession, findLiveSession, revokeRecord } from './revocation.js';
import { parseScope } from './scopes.js';
import type { Verified } from './verification.js';

/** The user behind a verified token; self-service needs one. */
type UserCall = Verified & { user: NonNullable<Verified['user']> };

/** POST /v1/logout: the current session, or the token itself when it has none. */
export async function logout(core: Core, caller: UserCall, ip: string | null): Promise<void> {
  const { token } = caller;
  if (token.sessionId !== null) {
    await endSession(core, { id: token.sessionId, appId: token.appId, userId: caller.user.id }, `user:${caller.user.id}`, ip);
  } else {
    await revokeRecord(core, token, `user:${caller.user.id}`, ip);
  }
}

/** DELETE /v1/sessions/{id}: only the caller's own sessions; others are "not found". */
export async function deauthorizeSession(core: Core, caller: UserCall, sessionId: string, ip: string | null): Promise<void> {
  const session = await findLiveSession(core, sessionId, caller.user.id);
  await endSession(core, session, `user:${caller.user.id}`, ip);
}

const MAX_API_TOKEN_TTL = 10 * 365 * 86_400;

export interface ApiTokenRequest {
  name: string;
  scopes?: string[] | string;
  expiresIn?: number | null;
}

function checkApiTokenRequest(request: ApiTokenRequest): { name: string; scopes: string[] | null; ttl: number | null } {
  const name = request.name.trim();
  if (name === '' || name.length > 200) throw new InvalidRequest('name must be 1 to 200 characters');
  const ttl = request.expiresIn ?? null;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_API_TOKEN_TTL)) {
    throw new InvalidRequest(`expires_in must be a whole number of seconds from 1 to ${MAX_API_TOKEN_TTL}`);
  }
  const scopes = request.scopes === undefined ? null : parseScope(Array.isArray(request.scopes) ? request.scopes.join(' ') : request.scopes);
  return { name, scopes, ttl };
}

/**
 * A long-lived API token for one user and one app (seed 002's "Auth Token").
 * Made by the user for itself, its scopes are at most the calling token's: no
 * token can mint a more powerful one.
 */
export async function createApiToken(
  core: Core,
  options: { caller: UserCall | null; userId: number; app: App; request: ApiTokenRequest; actor: `user:${number}` | `operator:${string}` },
): Promise<{ secret: string; record: Token }> {
  const { name, scopes, ttl } = checkApiTokenRequest(options.request);
  const { app } = options;
  const ceiling = options.caller?.token.scopes ?? app.scopes;
  const granted = scopes ?? [...ceiling];
  const beyond = granted.filter((s) => !ceiling.includes(s));
  if (beyond.length > 0) throw new InsufficientScope(beyond.join(' '));
  const minted = await mintToken(core, { kind: 'api', app, userId: options.userId, sessionId: null, scopes: granted, ttlSeconds: ttl, name });
  await core.store.insertTokens(
    [minted.record],
    core.audit.announce(options.actor.startsWith('operator:') ? 'admin.api_token.created' : 'token.issued', options.actor, {
      appId: app.id,
      userId: options.userId,
      tokenId: minted.record.id,
      detail: { kind: 'api', name },
    }),
  );
  return minted;
}

/** DELETE /v1/api-tokens/{id}: only the caller's own; revokes what it minted too. */
export async function deleteApiToken(core: Core, caller: UserCall, tokenId: string): Promise<void> {
  const token = await core.store.findTokenById(tokenId);
  if (token === null || token.kind !== 'api' || token.userId !== caller.user.id || token.revokedAt !== null) throw new NotFound('API token');
  await revokeRecord(core, token, `user:${caller.user.id}`);
}
