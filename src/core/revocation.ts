import type { Actor, Core } from './context.js';
import { NotFound } from './errors.js';
import type { App, Session, Token } from './model.js';
import { isTokenKind, looksLikeJwt, parseSecret } from './tokens.js';
import { findTokenBySecret } from './verification.js';

/**
 * Revokes one token the way its kind asks: a refresh token takes its whole
 * session with it (SPEC §4), any other token itself and what it minted.
 * `reason: 'leaked'` (a leaked-token report) is audited as `token.leaked`.
 */
export async function revokeRecord(
  core: Core,
  token: Token,
  actor: Actor,
  ip: string | null = null,
  reason: 'revoked' | 'leaked' = 'revoked',
): Promise<void> {
  const now = core.clock.now();
  const wholeSession = token.kind === 'refresh' && token.sessionId !== null;
  if (wholeSession) await core.store.revokeSession(token.sessionId!, now);
  else await core.store.revokeToken(token.id, now);
  const fields = { appId: token.appId, userId: token.userId, sessionId: token.sessionId, tokenId: token.id, ip };
  if (reason === 'leaked') {
    await core.audit.record('token.leaked', actor, { ...fields, detail: { kind: token.kind, format: token.format, revoked: wholeSession ? 'session' : 'token' } });
  } else if (wholeSession) {
    await core.audit.record('session.revoked', actor, fields);
  } else {
    await core.audit.record('token.revoked', actor, { ...fields, detail: { kind: token.kind } });
  }
}

/** Finds a presented token by value; null for anything malformed or unknown. */
export async function findPresented(core: Core, presented: string): Promise<Token | null> {
  if (!looksLikeJwt(presented)) {
    const kind = parseSecret(presented);
    if (kind === null || !isTokenKind(kind)) return null;
  }
  return findTokenBySecret(core.store, presented);
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

/** Ends a session (logout, a deauthorized device, an operator's revocation): its tokens and what they minted die. */
export async function endSession(
  core: Core,
  session: Pick<Session, 'id' | 'appId' | 'userId'>,
  actor: Actor,
  ip: string | null = null,
): Promise<void> {
  await core.store.revokeSession(session.id, core.clock.now());
  await core.audit.record('session.revoked', actor, { appId: session.appId, userId: session.userId, sessionId: session.id, ip });
}

/** A session that is still live and, when `userId` is given, that user's; anything else is "not found". */
export async function findLiveSession(core: Core, sessionId: string, userId?: number): Promise<Session> {
  const session = await core.store.findSession(sessionId);
  if (session === null || session.revokedAt !== null || (userId !== undefined && session.userId !== userId)) throw new NotFound('session');
  return session;
}

export async function revokeSessionById(core: Core, sessionId: string, actor: Actor, ip: string | null = null): Promise<void> {
  await endSession(core, await findLiveSession(core, sessionId), actor, ip);
}

export async function revokeTokenById(core: Core, tokenId: string, actor: Actor): Promise<void> {
  const token = await core.store.findTokenById(tokenId);
  if (token === null) throw new NotFound('token');
  if (token.revokedAt === null) await revokeRecord(core, token, actor);
}
