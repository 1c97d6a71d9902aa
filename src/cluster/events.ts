/**
 * What a revocation tells the verification caches of every node: which
 * entries can no longer be trusted. Matching errs on the side of dropping too
 * much — a dropped entry costs one store read, a kept one a revoked token.
 */
export type RevocationEvent =
  | { scope: 'token'; id: string }
  | { scope: 'token-hash'; hash: string }
  | { scope: 'session'; id: string }
  | { scope: 'user'; id: number }
  | { scope: 'app'; id: string }
  | { scope: 'master-key'; id: string }
  | { scope: 'all' };

/** The parts of a cached verification an event is matched against. */
export interface CachedIdentity {
  hash: string;
  tokenId: string;
  parentId: string | null;
  sessionId: string | null;
  userId: number | null;
  appId: string;
  masterKeyId: string | null;
}

/** What a cached entry can be named by: an id in one of these scopes (`minted` has the one id ''). */
export type NameScope = 'token' | 'session' | 'user' | 'app' | 'master-key' | 'minted';
export type Name = readonly [scope: NameScope, id: string | number];

/** The one name every token minted from another (an install token) bears: a revoked session drops them all. */
const MINTED: Name = ['minted', ''];

/**
 * The names a cached entry answers to. A revocation drops every entry that
 * bears a name the event gives (`namedBy`), so the cache finds them without
 * looking at the others. Matching errs on the side of dropping too much — a
 * dropped entry costs one store read, a kept one a revoked token:
 * - `token`: the token itself, and the tokens it minted (by their parent id);
 * - `session`: the session's tokens, and every minted token, which carries
 *   only a parent id;
 * - `user`, `app`, `master-key`: every token that names them.
 */
export function namesOf(entry: CachedIdentity): Name[] {
  const names: Name[] = [
    ['token', entry.tokenId],
    ['app', entry.appId],
  ];
  if (entry.parentId !== null) names.push(['token', entry.parentId], MINTED);
  if (entry.sessionId !== null) names.push(['session', entry.sessionId]);
  if (entry.userId !== null) names.push(['user', entry.userId]);
  if (entry.masterKeyId !== null) names.push(['master-key', entry.masterKeyId]);
  return names;
}

/** The names an event drops (see `namesOf`). A `token-hash` event names its entry's key instead, and `all` every entry. */
export function namedBy(event: Exclude<RevocationEvent, { scope: 'token-hash' } | { scope: 'all' }>): Name[] {
  return event.scope === 'session' ? [['session', event.id], MINTED] : [[event.scope, event.id]];
}

/** Parses an event from the wire; anything unexpected becomes `all` (drop everything), never an exception. */
export function parseEvent(text: string): RevocationEvent {
  try {
    const value = JSON.parse(text) as Partial<Record<string, unknown>>;
    switch (value.scope) {
      case 'token':
      case 'session':
      case 'app':
      case 'master-key':
        if (typeof value.id === 'string') return { scope: value.scope, id: value.id };
        break;
      case 'token-hash':
        if (typeof value.hash === 'string') return { scope: 'token-hash', hash: value.hash };
        break;
      case 'user':
        if (typeof value.id === 'number') return { scope: 'user', id: value.id };
        break;
    }
  } catch {
    // falls through
  }
  return { scope: 'all' };
}
