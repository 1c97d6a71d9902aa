import type { Actor, Core } from './context.js';
import { NotFound } from './errors.js';
import type { App, Token } from './model.js';
import { hashSecret, isTokenKind, looksLikeJwt, parseSecret } from './tokens.js';

/**
 * Revokes one token the way its kind asks: a refresh token takes its whole
 * session with it (SPEC §4), any other token itself and what it minted.
 */
export async function revokeRecord(core: Core, token: Token, actor: Actor, ip: string | null = null): Promise<void> {
  const now = core.clock.now();
  if (token.kind === 'refresh' && token.sessionId !== null) {
    await core.store.revokeSession(token.sessionId, now);
    await core.audit.record('session.revoked', actor, { appId: token.appId, userId: token.userId, sessionId: token.sessionId, tokenId: token.id, ip });
    return;
  }
  await core.store.revokeToken(token.id, now);
  await core.audit.record('token.revoked', actor, { appId: token.appId, userId: token.userId, sessionId: token.sessionId, tokenId: token.id, ip, detail: { kind: token.kind } });
}

/** Finds a presented token by value; null for anything malformed or unknown. */
export async function findPresented(core: Core, presented: string): Promise<Token | null> {
  if (!looksLikeJwt(presented)) {
    const kind = parseSecret(presented);
    if (kind === null || !isTokenKind(kind)) return null;
  }
  return core.store.findTokenByHash(hashSecret(presented));
}

/**
 * RFC 7009 §2.2: the answer is the same whether the token was unknown, already
 * revoked, or another app's — which is left alone.
 */
export async function revokePresented(core: Core, app: App, presented: string, ip: string | null): Promise<void> {
  const token = await findPresented(core, presented);
  if (token === null || token.appId !== app.id || token.revokedAt !== null) return;
  await revokeRecord(core, token, `app:${app.clientId}`, ip);
}

export async function revokeSessionById(core: Core, sessionId: string, actor: Actor, ip: string | null = null): Promise<void> {
  const session = await core.store.findSession(sessionId);
  if (session === null || session.revokedAt !== null) throw new NotFound('session');
  await core.store.revokeSession(sessionId, core.clock.now());
  await core.audit.record('session.revoked', actor, { appId: session.appId, userId: session.userId, sessionId, ip });
}

export async function revokeTokenById(core: Core, tokenId: string, actor: Actor): Promise<void> {
  const token = await core.store.findTokenById(tokenId);
  if (token === null) throw new NotFound('token');
  if (token.revokedAt === null) await revokeRecord(core, token, actor);
}
