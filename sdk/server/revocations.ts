/** A revocation as tokend's feed (`GET /v1/revocations`) sends it; `at` is tokend's clock after the commit. */
export type FeedRevocation =
  | { type: 'token'; jti: string; at: number }
  | { type: 'token_hash'; hash: string; at: number }
  | { type: 'session'; sid: string; at: number }
  | { type: 'user'; sub: string; at: number }
  | { type: 'client'; client_id: string; at: number }
  | { type: 'service_tokens'; client_id: string; at: number }
  | { type: 'all'; at: number };

/** What a JWT offers to be matched against revocations. */
export interface JwtFacts {
  hash: string;
  jti: string;
  sid: string | null;
  sub: string;
  clientId: string;
  /** `iat` in ms. */
  issuedAt: number;
}

/** What a cached introspection answer offers to be matched (it knows the kind; a JWT alone does not). */
export interface KnownFacts {
  hash: string;
  jti: string;
  sid: string | null;
  sub: string;
  clientId: string;
  kind: string;
}

/** A broad revocation: tokens it covers, issued up to `at`, must be asked about (they may or may not be revoked). */
interface Doubt {
  sub?: string;
  clientId?: string;
  serviceOnly: boolean;
  at: number;
}

/**
 * What this verifier has learned in the current epoch of the feed. Within an
 * epoch every revocation tokend heard after `since` has arrived here in order,
 * so a JWT issued after `since` that no entry touches is live. Exact
 * revocations (a token, a session) refuse at once; broad ones (a user, an
 * app, a master key) send the tokens they cover to introspection, which knows
 * which of them actually died.
 */
export class RevocationLedger {
  /** tokend's time the epoch began (or the ledger last forgot); tokens issued up to it are unknown territory. */
  since = Number.POSITIVE_INFINITY;
  private readonly jtis = new Set<string>();
  private readonly hashes = new Set<string>();
  private readonly sids = new Set<string>();
  private doubts: Doubt[] = [];
  /** The latest `at` recorded: forgetting starts over from there, so no forgotten revocation is younger than `since`. */
  private latest = Number.NEGATIVE_INFINITY;

  /**
   * `skewMs`: how far tokend nodes' clocks may disagree. `at` and `since` come
   * from the clock of the node the feed follows, `iat` from the node that
   * issued the token; a token issued up to `skewMs` after a revocation's `at`
   * may in truth predate it, so it is not vouched for either.
   */
  constructor(
    private readonly maxEntries = 10_000,
    private readonly skewMs = 5_000,
  ) {}

  /** A new epoch: what came before is forgotten, and tokens issued before `now` go to introspection. */
  reset(now: number): void {
    this.since = now;
    this.latest = now;
    this.jtis.clear();
    this.hashes.clear();
    this.sids.clear();
    this.doubts = [];
  }

  /** Ends trust in local checks until the next epoch. */
  invalidate(): void {
    this.reset(Number.POSITIVE_INFINITY);
  }

  record(event: FeedRevocation): void {
    this.latest = Math.max(this.latest, event.at);
    switch (event.type) {
      case 'token':
        this.jtis.add(event.jti);
        break;
      case 'token_hash':
        this.hashes.add(event.hash);
        break;
      case 'session':
        this.sids.add(event.sid);
        break;
      case 'user':
        this.doubts.push({ sub: event.sub, serviceOnly: false, at: event.at });
        break;
      case 'client':
      case 'service_tokens':
        this.doubts.push({ clientId: event.client_id, serviceOnly: event.type === 'service_tokens', at: event.at });
        break;
      case 'all':
        this.reset(Math.max(this.since, this.latest));
        return;
    }
    // Bounded memory: past the cap, start over from the latest revocation; older tokens are then introspected.
    if (this.jtis.size + this.hashes.size + this.sids.size + this.doubts.length > this.maxEntries) this.reset(Math.max(this.since, this.latest));
  }

  /** Definitely revoked: its id, its hash or its session was named. */
  refuses(facts: { hash: string; jti: string; sid: string | null }): boolean {
    return this.jtis.has(facts.jti) || this.hashes.has(facts.hash) || (facts.sid !== null && this.sids.has(facts.sid));
  }

  /** Whether a JWT may be trusted on its signature alone: issued inside the epoch, untouched by any broad revocation. */
  vouchesFor(facts: JwtFacts): boolean {
    // `<=`: a revocation at the very millisecond `since` may be one this ledger never saw (or forgot).
    if (facts.issuedAt <= this.since + this.skewMs || this.refuses(facts)) return false;
    return !this.doubts.some((d) => facts.issuedAt <= d.at + this.skewMs && (d.sub === facts.sub || d.clientId === facts.clientId));
  }

  /** Whether an event makes a cached introspection answer stale. Install tokens die with the token or session that minted them. */
  static touches(event: FeedRevocation, facts: KnownFacts): boolean {
    switch (event.type) {
      case 'token':
        return facts.jti === event.jti || facts.kind === 'install';
      case 'token_hash':
        return facts.hash === event.hash;
      case 'session':
        return facts.sid === event.sid || facts.kind === 'install';
      case 'user':
        return facts.sub === event.sub;
      case 'client':
        return facts.clientId === event.client_id;
      case 'service_tokens':
        return facts.clientId === event.client_id && facts.kind === 'service';
      case 'all':
        return true;
    }
  }
}
