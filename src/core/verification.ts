import type { Store } from '../store/store.js';
import type { Core } from './context.js';
import { verifyAccessToken } from './jwt.js';
import type { App, Token, User } from './model.js';
import type { Door } from './observer.js';
import { checksumHolds, hashSecret, isTokenKind, looksLikeJwt, secretShape, tokenKey, type TokenKind } from './tokens.js';

/** A presented token that is live, with its app and user. */
export interface Verified {
  token: Token;
  app: App;
  user: User | null;
}

/**
 * Resolves a presented token to its live record, or null. Cheap refusals come
 * first: a string without an opaque secret's shape or a JWT's first bytes
 * never reaches the cache, and one whose checksum or JWT shape fails never
 * reaches the store (checked only when the cache does not know the token: a
 * hash the cache holds is of a token tokend made). A repeat verification is
 * answered from the cache, whose entries die with any revocation; a request
 * that finds the same token already being read from the store waits for that
 * read; otherwise a JWT's signature is checked, then the record must be live
 * in the store (so revocation works for JWTs too) and carry its app's
 * audience. Each answer is reported to `core.observer`, labelled with the
 * `door` the token came through. Answers that need no store read (the cache's,
 * and refusals) come back at once rather than as a promise, so a caller on
 * the hot path can answer in the same turn; `await` takes either.
 */
export function verifyToken(core: Core, presented: string, door?: Door): Verified | null | Promise<Verified | null> {
  const started = performance.now();
  // Only a JWT starts with "eyJ" (an opaque secret starts with its prefix); its full shape is checked on a cache miss.
  const jwt = presented.startsWith('eyJ');
  let claimed: TokenKind | null = null;
  if (!jwt) {
    const kind = secretShape(presented);
    if (kind === null || !isTokenKind(kind)) return report(core, null, null, false, started, door);
    claimed = kind;
  }
  const now = core.clock.now();
  const hash = hashSecret(presented);
  const cached = core.cache.get(hash);
  if (cached !== null && isLive(cached.token, now)) {
    core.usage.seen(cached.token.id, cached.token.sessionId, now);
    return report(core, cached, claimed, true, started, door);
  }
  if (jwt ? !looksLikeJwt(presented) : !checksumHolds(presented)) return report(core, null, claimed, false, started, door);
  const joined = core.cache.joinRead(hash);
  const mark = core.cache.mark();
  const read = joined ?? core.cache.shareRead(hash, mark, fromStore(core, presented, hash, jwt, now));
  return read.then((found) => {
    // A shared read checked the token when it began; this request may come a moment later, past its expiry.
    const verified = found !== null && isLive(found.token, now) ? found : null;
    if (verified !== null) {
      if (joined === null) core.cache.set(hash, verified, mark);
      core.usage.seen(verified.token.id, verified.token.sessionId, now);
    }
    return report(core, verified, claimed, false, started, door);
  });
}

function report(core: Core, verified: Verified | null, claimed: TokenKind | null, cached: boolean, started: number, door: Door | undefined): Verified | null {
  const seconds = (performance.now() - started) / 1000;
  core.observer.verified({ kind: verified?.token.kind ?? claimed, ok: verified !== null, cached, seconds, door });
  return verified;
}

async function fromStore(core: Core, presented: string, hash: string, jwt: boolean, now: number): Promise<Verified | null> {
  let audience: unknown;
  if (jwt) {
    const claims = await verifyAccessToken(core.keys, presented, { issuer: core.settings.issuer, now });
    if (claims === null) return null;
    audience = claims.aud;
  }
  const token = await findTokenBySecret(core.store, presented, hash);
  if (token === null || !isLive(token, now)) return null;
  const app = await core.apps.findById(token.appId);
  if (app === null || app.deletedAt !== null) return null;
  if (token.format === 'jwt' && audience !== (app.audience ?? core.settings.issuer)) return null;
  let user: User | null = null;
  if (token.userId !== null) {
    user = await core.store.findUserById(token.userId);
    if (user === null || user.disabled) return null;
  }
  return { token, app, user };
}

/**
 * A presented opaque token or JWT's record, live or not, by its store key
 * (`tokenKey`); failing that, by its SHA-256 alone, under which the tokens
 * issued before tokens had locators are stored. So only a token the store
 * does not hold under its key costs a second lookup: an unknown one, or one
 * of those. `digest` is `hashSecret(presented)`, when the caller has it.
 */
export async function findTokenBySecret(store: Pick<Store, 'findTokenByHash'>, presented: string, digest = hashSecret(presented)): Promise<Token | null> {
  const key = tokenKey(presented, digest);
  return (await store.findTokenByHash(key)) ?? (key === digest ? null : store.findTokenByHash(digest));
}

/** Not revoked, not expired, and (for a refresh token) not yet rotated. */
export function isLive(token: Token, now: number): boolean {
  return token.revokedAt === null && token.usedAt === null && (token.expiresAt === null || token.expiresAt > now);
}
