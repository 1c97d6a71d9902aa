import type { Core } from '../context.js';
import { InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient } from '../errors.js';
import { mintSessionTokens, type TokenSet } from '../issuance.js';
import type { App, Token, TokenFormat } from '../model.js';
import type { Door } from '../observer.js';
import { openSuccessor, sealSuccessor } from '../refresh-seal.js';
import { parseScope } from '../scopes.js';
import { parseSecret } from '../tokens.js';
import { findTokenBySecret } from '../verification.js';
import type { Grant } from './types.js';

const INVALID = 'the refresh token is invalid, expired or revoked';

/**
 * RFC 6749 §6 with single-use rotation (SPEC §4). The store's conditional
 * UPDATE is the only gate: whoever loses it is looking at a used token, which
 * is either a replay inside the grace window (answered with the same sealed
 * successor pair) or reuse (the session dies).
 */
export const refreshTokenGrant: Grant = async (core, { app, params, ip }) => {
  const presented = params.refresh_token;
  if (presented === undefined || presented === '') throw new InvalidRequest('refresh_token is required');
  return refreshSession(core, { app, presented, ...(params.scope !== undefined && { scope: params.scope }), ip, door: 'oauth' });
};

export interface SessionRefresh {
  app: App;
  presented: string;
  scope?: string;
  ip: string | null;
  /** Which door the refresh came through, for the audit log. */
  door: Door;
  /** A door may fix the new access token's format (JSON:API always answers JWTs). */
  accessFormat?: TokenFormat;
}

/** Rotates a session's refresh token, through whichever door it came. */
export async function refreshSession(core: Core, { app, presented, scope: requested, ip, door, accessFormat }: SessionRefresh): Promise<TokenSet> {
  if (!app.grants.includes('refresh_token')) throw new UnauthorizedClient('this client may not use the refresh_token grant');
  // A bad checksum is refused before any store lookup (SPEC §2).
  if (parseSecret(presented) !== 'refresh') throw new InvalidGrant(INVALID);

  const now = core.clock.now();
  const current = await findTokenBySecret(core.store, presented);
  if (current === null || current.kind !== 'refresh' || current.appId !== app.id || current.sessionId === null || current.userId === null) {
    throw new InvalidGrant(INVALID);
  }
  if (current.usedAt !== null) return replayOrReuse(core, app, current, presented, ip, door);
  if (current.revokedAt !== null || (current.expiresAt ?? 0) <= now) throw new InvalidGrant(INVALID);

  // RFC 6749 §6: the new access token may be narrower; the refresh token keeps the original grant.
  const scopes = requested === undefined ? current.scopes : narrow(requested, current.scopes);
  const { set, records } = await mintSessionTokens(core, {
    app,
    userId: current.userId,
    sessionId: current.sessionId,
    scopes,
    refreshScopes: current.scopes,
    refresh: true,
    ...(accessFormat !== undefined && { accessFormat }),
  });
  // Written with the rotation, and heard only if this caller wins it.
  const audit = core.audit.draft('token.refreshed', `user:${current.userId}`, {
    appId: app.id,
    userId: current.userId,
    sessionId: current.sessionId,
    tokenId: set.accessTokenId,
    ip,
    detail: { from: current.id, door },
  });
  const result = await core.store.rotateRefreshToken({
    hash: current.hash,
    appId: app.id,
    now,
    successorId: set.refreshTokenId!,
    successorSealed: app.refreshReuseGraceSeconds > 0 ? sealSuccessor(presented, current.id, set) : null,
    successors: records,
    audit,
  });
  if (result.outcome === 'lost') {
    if (result.token?.usedAt != null) return replayOrReuse(core, app, result.token, presented, ip, door);
    throw new InvalidGrant(INVALID);
  }
  core.audit.tell(audit);
  return set;
}

function narrow(requested: string, granted: readonly string[]): string[] {
  const asked = parseScope(requested);
  const wider = asked.filter((s) => !granted.includes(s));
  if (wider.length > 0) throw new InvalidScope(`a refresh may only narrow the scope; not granted: ${wider.join(' ')}`);
  return asked;
}

/**
 * A used refresh token came back. Inside the grace window, and only while its
 * successor is still the live refresh token, it is a lost response or a retry:
 * answer the sealed successor pair again. Anything else is reuse.
 */
async function replayOrReuse(core: Core, app: App, used: Token, presented: string, ip: string | null, door: Door): Promise<TokenSet> {
  const now = core.clock.now();
  const inWindow = app.refreshReuseGraceSeconds > 0 && now <= (used.usedAt ?? 0) + app.refreshReuseGraceSeconds * 1000;
  if (inWindow && used.revokedAt === null && used.successorId !== null && used.successorSealed !== null) {
    const successor = await core.store.findTokenById(used.successorId);
    const live = successor !== null && successor.usedAt === null && successor.revokedAt === null;
    const set = live ? openSuccessor(presented, used.id, used.successorSealed) : null;
    if (set !== null) {
      await core.audit.record('token.refresh_replayed', `user:${used.userId ?? 0}`, {
        appId: app.id,
        userId: used.userId,
        sessionId: used.sessionId,
        tokenId: used.id,
        ip,
        detail: { door },
      });
      return set;
    }
  }
  if (used.sessionId !== null) await core.store.revokeSession(used.sessionId, now);
  await core.audit.record('token.refresh_reused', `user:${used.userId ?? 0}`, {
    appId: app.id,
    userId: used.userId,
    sessionId: used.sessionId,
    tokenId: used.id,
    ip,
    detail: { door },
  });
  throw new InvalidGrant('the refresh token was already used; the session has been revoked');
}
