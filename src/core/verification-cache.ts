import { namedBy, namesOf, type CachedIdentity, type Name, type NameScope, type RevocationEvent } from '../cluster/events.js';
import type { RevocationBus } from '../cluster/bus.js';
import type { Clock } from './clock.js';
import type { Verified } from './verification.js';

export interface CacheOptions {
  /** Entries kept at most; the oldest go first. */
  maxEntries: number;
  /** An entry is re-read from the store at least this often, whatever the bus says. */
  maxAgeMs: number;
}

/**
 * 10 s bounds the one case the bus cannot cover: a node that revokes while it
 * has lost Redis cannot tell the others, whose entries then live at most this long.
 */
export const DEFAULT_CACHE_OPTIONS: CacheOptions = { maxEntries: 100_000, maxAgeMs: 10_000 };

interface Entry {
  verified: Verified;
  identity: CachedIdentity;
  /** Never beyond the token's own expiry. */
  expiresAt: number;
}

/**
 * Verified tokens by hash, so a repeat verification needs no store read. An
 * entry dies with any revocation that touches it (from this node or, through
 * the bus, any other), with its token's expiry, and after `maxAgeMs`. While
 * the bus cannot prove delivery the cache is bypassed, and on recovery it is
 * emptied: revocations missed meanwhile must not be served from it.
 */
export class VerificationCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * The entries' hashes by every name a revocation can give them, so that a
   * revocation reads only the entries it drops. About 210 bytes an entry
   * (100 000 entries: 65 -> 86 MiB of heap), keyed by the ids the entries
   * already hold, one map per scope: a new "scope:id" string each took 26.
   */
  private readonly named = new Names();
  /** Store reads under way, by hash, with the generation each began in: see `joinRead`. */
  private readonly reads = new Map<string, { mark: number; read: Promise<Verified | null> }>();
  /** Bumped by every revocation: a store read that began before one must not fill the cache after it. */
  private generation = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly clock: Clock,
    private readonly bus: RevocationBus,
    private readonly options: CacheOptions = DEFAULT_CACHE_OPTIONS,
  ) {
    bus.onEvent((event) => this.drop(event));
    bus.onTrustChange(() => this.drop({ scope: 'all' }));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Marks the start of a store read; pass the mark to `set`. */
  mark(): number {
    return this.generation;
  }

  get(hash: string): Verified | null {
    if (!this.bus.trusted) return null;
    const entry = this.entries.get(hash);
    if (entry === undefined || entry.expiresAt <= this.clock.now()) {
      if (entry !== undefined) this.forget(hash, entry);
      this.misses += 1;
      return null;
    }
    this.hits += 1;
    return entry.verified;
  }

  /**
   * A store read for this hash already under way, to share instead of starting
   * another: when a hot token's entry expires, every request presenting it at
   * that moment would otherwise read the store (and check a JWT's signature)
   * at once. Shared only if no revocation has arrived since the read began and
   * the bus is trusted, the same conditions under which its answer may fill
   * the cache: a read shared is no staler than an entry.
   */
  joinRead(hash: string): Promise<Verified | null> | null {
    const under = this.bus.trusted ? this.reads.get(hash) : undefined;
    return under !== undefined && under.mark === this.generation ? under.read : null;
  }

  /** Offers a store read begun at `mark` to `joinRead` until it settles; returns it. */
  shareRead(hash: string, mark: number, read: Promise<Verified | null>): Promise<Verified | null> {
    const under = { mark, read };
    this.reads.set(hash, under);
    const settled = () => {
      if (this.reads.get(hash) === under) this.reads.delete(hash);
    };
    read.then(settled, settled);
    return read;
  }

  set(hash: string, verified: Verified, mark: number): void {
    if (!this.bus.trusted || mark !== this.generation) return;
    const { token, app } = verified;
    const now = this.clock.now();
    const expiresAt = Math.min(token.expiresAt ?? Number.MAX_SAFE_INTEGER, now + this.options.maxAgeMs);
    if (expiresAt <= now) return;
    const held = this.entries.get(hash);
    if (held !== undefined) this.forget(hash, held);
    if (this.entries.size >= this.options.maxEntries) {
      const [oldest] = this.entries;
      if (oldest !== undefined) this.forget(...oldest);
    }
    const identity: CachedIdentity = {
      hash,
      tokenId: token.id,
      parentId: token.parentId,
      sessionId: token.sessionId,
      userId: token.userId,
      appId: app.id,
      masterKeyId: token.masterKeyId,
    };
    this.entries.set(hash, { verified, expiresAt, identity });
    for (const name of namesOf(identity)) this.named.add(name, hash);
  }

  /**
   * Drops every entry the revocation touches. It finds them by name, not by
   * looking at every entry: every refresh rotation on any node sends one, and
   * reading all of 100 000 entries cost 1.9 ms each time.
   */
  drop(event: RevocationEvent): void {
    this.generation += 1;
    if (event.scope === 'all') {
      this.entries.clear();
      this.named.clear();
      return;
    }
    const hashes = event.scope === 'token-hash' ? [event.hash] : namedBy(event).flatMap((name) => this.named.take(name));
    for (const hash of hashes) {
      const entry = this.entries.get(hash);
      if (entry !== undefined) this.forget(hash, entry);
    }
  }

  private forget(hash: string, entry: Entry): void {
    this.entries.delete(hash);
    for (const name of namesOf(entry.identity)) this.named.remove(name, hash);
  }
}

/** Sets of hashes by name, one map per scope. Most names (a token id, a session) have one hash, held bare rather than in a Set. */
class Names {
  private readonly scopes = new Map<NameScope, Map<string | number, string | Set<string>>>();

  add([scope, id]: Name, hash: string): void {
    let sets = this.scopes.get(scope);
    if (sets === undefined) this.scopes.set(scope, (sets = new Map()));
    const held = sets.get(id);
    if (held === undefined) sets.set(id, hash);
    else if (typeof held !== 'string') held.add(hash);
    else if (held !== hash) sets.set(id, new Set([held, hash]));
  }

  remove([scope, id]: Name, hash: string): void {
    const sets = this.scopes.get(scope);
    const held = sets?.get(id);
    if (held === hash) sets!.delete(id);
    else if (typeof held === 'object' && held.delete(hash) && held.size === 0) sets!.delete(id);
  }

  /** The hashes under the name, which then holds none. */
  take([scope, id]: Name): string[] {
    const sets = this.scopes.get(scope);
    const held = sets?.get(id);
    sets?.delete(id);
    return held === undefined ? [] : typeof held === 'string' ? [held] : [...held];
  }

  clear(): void {
    this.scopes.clear();
  }
}
