import type { Core } from './context.js';
import { verifyAccessToken } from './jwt.js';
import type { App, Token, User } from './model.js';
import { hashSecret, isTokenKind, looksLikeJwt, parseSecret } from './tokens.js';

/** A presented token that is live, with its app and user. */
export interface Verified {
  token: Token;
  app: App;
  user: User | null;
}

/**
 * Resolves a presented token to its live record, or null. Cheap refusals come
 * first: a bad checksum or a bad JWT signature never reaches the store. A JWT
 * must also be on record (so revocation works) and carry its app's audience.
 */
export async function verifyToken(core: Core, presented: string): Promise<Verified | null> {
  const now = core.clock.now();
  let audience: unknown;
  if (looksLikeJwt(presented)) {
    const claims = await verifyAccessToken(core.keys, presented, { issuer: core.settings.issuer, now });
    if (claims === null) return null;
    audience = claims.aud;
  } else {
    const kind = parseSecret(presented);
    if (kind === null || !isTokenKind(kind)) return null;
  }
  const token = await core.store.findTokenByHash(hashSecret(presented));
  if (token === null || !isLive(token, now)) return null;
  const app = await core.store.findAppById(token.appId);
  if (app === null || app.deletedAt !== null) return null;
  if (token.format === 'jwt' && audience !== (app.audience ?? core.settings.issuer)) return null;
  let user: User | null = null;
  if (token.userId !== null) {
    user = await core.store.findUserById(token.userId);
    if (user === null || user.disabled) return null;
  }
  core.usage.seen(token.id, token.sessionId, now);
  return { token, app, user };
}

/** Not revoked, not expired, and (for a refresh token) not yet rotated. */
export function isLive(token: Token, now: number): boolean {
  return token.revokedAt === null && token.usedAt === null && (token.expiresAt === null || token.expiresAt > now);
}
