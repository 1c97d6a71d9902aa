import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { InvalidTokenError, UnavailableError } from '../errors.js';
import { basicAuthorization, systemClock, trimSlash, type Clock, type Fetch } from '../http.js';
import { RevocationFeed } from './feed.js';
import type { TokenIdentity } from './identity.js';
import { Introspector } from './introspection.js';
import { RevocationLedger } from './revocations.js';

/** How the verifier authenticates to tokend for introspection and the revocation feed. */
export type VerifierCredentials = { clientId: string; clientSecret: string } | { operatorToken: string };

export interface VerifierOptions {
  /** Where tokend is reached, e.g. `http://tokend.internal:8080`. */
  baseUrl: string;
  /** tokend's `iss` (TOKEND_ISSUER); defaults to `baseUrl`. */
  issuer?: string;
  /** Accepted `aud` values; defaults to the issuer (tokend's default audience). */
  audience?: string | string[];
  /**
   * An app's client credentials (introspection then sees only that app's
   * tokens, RFC 7662 §2.1) or an operator token (sees every app's).
   */
  credentials: VerifierCredentials;
  /** Follow tokend's revocation feed so local JWT checks stay safe (default true). Without it every JWT is introspected. */
  revocationFeed?: boolean;
  /** A heartbeat older than this ends trust in local checks (default 750 ms: three missed 250 ms beats). */
  trustWindowMs?: number;
  /** Introspection answers: reused this long without a vouching feed (default 500 ms), and with one (default 30 s). */
  cacheMs?: number;
  vouchedCacheMs?: number;
  /** JWKS: minimum time between refetches for an unknown `kid` (default 30 s), and the longest a key set is kept (default 10 min). */
  jwksCooldownMs?: number;
  jwksMaxAgeMs?: number;
  /**
   * The largest difference between tokend nodes' clocks (default 5 s): JWTs
   * issued that close after a revocation or the feed's start are introspected
   * once instead of trusted, since their `iat` may come from a faster clock.
   */
  clusterClockSkewMs?: number;
  /** Clock skew allowed on `exp`, `nbf`, `iat` in seconds (default 30; tokend itself allows at most 60). */
  clockToleranceSeconds?: number;
  fetch?: Fetch;
  clock?: Clock;
  /** Background failures (the feed dropping, reconnect errors); ignored by default. */
  onError?: (error: unknown) => void;
}

/** Algorithms tokend signs with; anything else is refused before a key is looked up (RFC 8725 §3.1). */
const ALGORITHMS = ['ES256', 'RS256', 'EdDSA'];
/** Headers that choose their own key are never honoured (SPEC §9). */
const FOREIGN_KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];
const OPAQUE = /^tk[asip]_[0-9A-Za-z]{38}$/;

/**
 * Verifies tokend tokens for a resource server. A JWT is checked locally
 * against the JWKS, and trusted on that alone only while the revocation feed
 * vouches (a heartbeat within `trustWindowMs`, inside an epoch that began
 * before the token was issued, no revocation naming it); otherwise, and for
 * opaque tokens, tokend's introspection decides. It never fails open: when
 * tokend cannot be asked, `verify` throws UnavailableError.
 */
export class TokenVerifier {
  private readonly clock: Clock;
  private readonly issuer: string;
  private readonly audience: string | string[];
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly ledger: RevocationLedger;
  private readonly introspector: Introspector;
  private readonly feed: RevocationFeed | null;
  private epoch = 0;
  private inEpoch = false;
  private lastBeat = Number.NEGATIVE_INFINITY;
  private readonly trustWindowMs: number;
  private readonly vouchedWaiters = new Set<() => void>();

  constructor(private readonly options: VerifierOptions) {
    const baseUrl = trimSlash(options.baseUrl);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.issuer = options.issuer ?? baseUrl;
    this.audience = options.audience ?? this.issuer;
    this.trustWindowMs = options.trustWindowMs ?? 750;
    this.ledger = new RevocationLedger(10_000, options.clusterClockSkewMs ?? 5_000);
    const authorization = 'operatorToken' in options.credentials ? `Bearer ${options.credentials.operatorToken}` : basicAuthorization(options.credentials.clientId, options.credentials.clientSecret);
    this.jwks = createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
      [customFetch]: fetchImpl,
    });
    this.introspector = new Introspector({
      url: `${baseUrl}/oauth/introspect`,
      authorization,
      fetch: fetchImpl,
      clock: this.clock,
      cacheMs: options.cacheMs ?? 500,
      vouchedCacheMs: options.vouchedCacheMs ?? 30_000,
      maxEntries: 10_000,
    });
    this.feed =
      options.revocationFeed === false
        ? null
        : new RevocationFeed({
            url: `${baseUrl}/v1/revocations`,
            authorization,
            fetch: fetchImpl,
            clock: this.clock,
            ...(options.onError !== undefined && { onError: options.onError }),
            handlers: {
              epoch: (now) => {
                this.epoch++;
                this.ledger.reset(now);
                this.inEpoch = true;
                this.lastBeat = this.clock.now();
                for (const wake of this.vouchedWaiters) wake();
              },
              heartbeat: () => {
                this.lastBeat = this.clock.now();
              },
              revoked: (event) => {
                this.ledger.record(event);
                this.introspector.forget(event);
              },
              lost: () => {
                this.epoch++;
                this.inEpoch = false;
                this.ledger.invalidate();
              },
            },
          });
    this.feed?.start();
  }

  /** Whether local JWT checks are trusted right now. */
  get vouched(): boolean {
    return this.inEpoch && this.clock.now() - this.lastBeat < this.trustWindowMs;
  }

  /** Resolves once the feed vouches (true), or after `timeoutMs` without it (false): verification works either way. */
  ready(timeoutMs = 5_000): Promise<boolean> {
    if (this.vouched || this.feed === null) return Promise.resolve(this.vouched);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.vouchedWaiters.delete(wake);
        resolve(value);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.vouchedWaiters.add(wake);
    });
  }

  /** The identity behind a presented token; InvalidTokenError when it is not live, UnavailableError when tokend cannot say. */
  async verify(token: string): Promise<TokenIdentity> {
    const hash = createHash('sha256').update(token).digest('hex');
    const identity = token.split('.').length === 3 ? await this.verifyJwt(token, hash) : await this.verifyOpaque(token, hash);
    if (identity === null) throw new InvalidTokenError();
    if (identity.kind === 'refresh') throw new InvalidTokenError('a refresh token does not authorize requests');
    return identity;
  }

  close(): void {
    this.feed?.close();
  }

  private async verifyOpaque(token: string, hash: string): Promise<TokenIdentity | null> {
    if (!OPAQUE.test(token)) return null;
    return this.introspector.introspect(token, hash, this.vouched ? this.epoch : null);
  }

  private async verifyJwt(token: string, hash: string): Promise<TokenIdentity | null> {
    const claims = await this.checkSignature(token);
    const sid = typeof claims.sid === 'string' ? claims.sid : null;
    const facts = { hash, jti: claims.jti, sid, sub: claims.sub, clientId: claims.client_id, issuedAt: claims.iat * 1000 };
    if (this.ledger.refuses(facts)) return null;
    // A JWT does not say its kind; one with a session is an access token, anything else is asked about once.
    if (this.vouched && sid !== null && this.ledger.vouchesFor(facts)) {
      return {
        kind: 'access',
        clientId: claims.client_id,
        userId: claims.sub === claims.client_id ? null : claims.sub,
        scopes: claims.scope === '' ? [] : claims.scope.split(' '),
        tokenId: claims.jti,
        sessionId: sid,
        installId: null,
        expiresAt: claims.exp * 1000,
        checkedBy: 'jwt',
      };
    }
    return this.introspector.introspect(token, hash, this.vouched ? this.epoch : null);
  }

  /** RFC 9068 §4 checks; a token failing them is refused without asking tokend. */
  private async checkSignature(token: string): Promise<{ sub: string; jti: string; client_id: string; scope: string; iat: number; exp: number } & JWTPayload> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ALGORITHMS,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        currentDate: new Date(this.clock.now()),
      });
      if (typeof protectedHeader.kid !== 'string' || FOREIGN_KEY_HEADERS.some((h) => h in protectedHeader)) throw new InvalidTokenError('the JWT header is not one tokend signs');
      if (typeof payload.client_id !== 'string' || typeof payload.jti !== 'string' || typeof payload.sub !== 'string' || typeof payload.iat !== 'number') throw new InvalidTokenError('the JWT lacks tokend claims');
      return { ...payload, scope: typeof payload.scope === 'string' ? payload.scope : '' } as never;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      // Failures to fetch the JWKS (network, timeout, a non-200) say nothing about the token.
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError) || error.code === 'ERR_JOSE_GENERIC') {
        throw new UnavailableError(`the JWKS could not be fetched: ${(error as Error).message}`, { cause: error });
      }
      throw new InvalidTokenError(`the JWT is not valid (${error.code})`);
    }
  }
}
