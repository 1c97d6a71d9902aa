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

export function affects(event: RevocationEvent, entry: CachedIdentity): boolean {
  switch (event.scope) {
    case 'token':
      return entry.tokenId === event.id || entry.parentId === event.id;
    case 'token-hash':
      return entry.hash === event.hash;
    case 'session':
      // Install tokens minted by the session's tokens carry only a parent id: drop every minted token.
      return entry.sessionId === event.id || entry.parentId !== null;
    case 'user':
      return entry.userId === event.id;
    case 'app':
      return entry.appId === event.id;
    case 'master-key':
      return entry.masterKeyId === event.id;
    case 'all':
      return true;
  }
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
