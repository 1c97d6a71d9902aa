import { InvalidCredentialsError, InvalidResponseError, UnavailableError } from '../errors.js';
import { backoff, call, jsonOf, sleep as realSleep, systemClock, trimSlash, type Clock, type Fetch, type Sleep } from '../http.js';

/** A service token as tokend issued it (seed 000: `{token, created_at, expires_at}`), times in ms. */
export interface ServiceToken {
  token: string;
  createdAt: number;
  expiresAt: number;
}

export interface ServiceTokenSourceOptions {
  /** tokend's base URL, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** The app's master key (`tkm_…`), as the operator handed it over. */
  masterKey: string;
  /** Renew when this share of the lifetime is left (default 0.1: a 30-day token renews 3 days ahead). */
  renewBefore?: number;
  /** First retry delay while tokend is down (default 500 ms), doubling up to `maxRetryDelayMs` (default 30 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Called with each new token and the one it replaces (still valid until its own expiry). */
  onRenewed?: (token: ServiceToken, previous: ServiceToken | null) => void;
  fetch?: Fetch;
  clock?: Clock;
  sleep?: Sleep;
}

/**
 * Holds a master key and always has a live service token for a partner
 * backend (seed 000). It renews ahead of expiry, at most one renewal at a time;
 * until the new token is in hand the current one keeps being handed out (tokend
 * keeps earlier service tokens valid, SPEC §5.1), and while tokend is down it
 * retries with backoff for as long as the current token lasts.
 */
export class ServiceTokenSource {
  private current: ServiceToken | null = null;
  private superseded: ServiceToken | null = null;
  private renewal: Promise<ServiceToken> | null = null;
  private readonly fetch: Fetch;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly baseUrl: string;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: ServiceTokenSourceOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? realSleep;
    this.baseUrl = trimSlash(options.baseUrl);
    const share = options.renewBefore ?? 0.1;
    if (!(share > 0 && share < 1)) throw new RangeError('renewBefore must be between 0 and 1 (a share of the lifetime)');
  }

  /** The token to send now. Starts a renewal in the background once inside the lead; waits only if none is live. */
  async token(): Promise<string> {
    const current = this.current;
    const now = this.clock.now();
    if (current !== null && now < current.expiresAt) {
      if (now >= this.renewAt(current)) void this.renew().catch(() => {});
      return current.token;
    }
    return (await this.renew()).token;
  }

  /** The current token and the one it replaced (kept, not revoked, until its own expiry). */
  tokens(): { current: ServiceToken | null; previous: ServiceToken | null } {
    return { current: this.current, previous: this.superseded };
  }

  /**
   * Gets a new token now, unless a renewal is already running (then its result).
   * After a 401 the caller passes the token that was refused, so a token that
   * has already been replaced does not trigger a second renewal.
   */
  renew(refused?: string): Promise<ServiceToken> {
    if (refused !== undefined && this.current !== null && this.current.token !== refused) return Promise.resolve(this.current);
    this.renewal ??= this.renewWithRetries().finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }

  /**
   * Renews in the background at the start of each lead, without waiting for a
   * caller (a backend that pushes tokens to installs through `onRenewed`).
   */
  start(): void {
    this.closed = false;
    const next = (): void => {
      if (this.closed) return;
      const current = this.current;
      // setTimeout holds at most 2^31-1 ms (24.8 days); a longer wait just wakes up and re-plans.
      const delay = current === null ? 0 : Math.min(Math.max(0, this.renewAt(current) - this.clock.now()), 2 ** 31 - 1);
      this.timer = setTimeout(() => {
        const due = this.current === null || this.clock.now() >= this.renewAt(this.current);
        (due ? this.renew() : Promise.resolve()).then(next, () => {
          // Gave up (no live token and tokend down, or the key refused): try again in a minute.
          if (!this.closed) this.timer = setTimeout(next, 60_000);
          this.timer?.unref?.();
        });
      }, delay);
      this.timer.unref?.();
    };
    next();
  }

  /** Stops background renewal and retries; tokens already handed out stay valid. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private renewAt(token: ServiceToken): number {
    return token.expiresAt - (token.expiresAt - token.createdAt) * (this.options.renewBefore ?? 0.1);
  }

  private async renewWithRetries(): Promise<ServiceToken> {
    const base = this.options.retryDelayMs ?? 500;
    const max = this.options.maxRetryDelayMs ?? 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const minted = await this.mint();
        this.superseded = this.current;
        this.current = minted;
        this.options.onRenewed?.(minted, this.superseded);
        return minted;
      } catch (error) {
        // Retrying is worth it only while tokend is down and the current token still serves; with none, give up after 3 tries.
        const live = this.current !== null && this.clock.now() < this.current.expiresAt;
        if (!(error instanceof UnavailableError) || this.closed || (!live && attempt >= 2)) throw error;
        await this.sleep(backoff(attempt, base, max));
      }
    }
  }

  private async mint(): Promise<ServiceToken> {
    const response = await call(this.fetch, `${this.baseUrl}/api/auth/v1.0/get_token/`, {
      method: 'POST',
      headers: { authorization: `Token ${this.options.masterKey}`, accept: 'application/json' },
    });
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new InvalidCredentialsError('tokend refused the master key (revoked, or not this app\'s)');
    }
    const body = await jsonOf<{ token?: unknown; created_at?: unknown; expires_at?: unknown }>(response, 'get_token');
    const createdAt = Date.parse(String(body.created_at));
    const expiresAt = Date.parse(String(body.expires_at));
    if (response.status !== 201 || typeof body.token !== 'string' || Number.isNaN(createdAt) || Number.isNaN(expiresAt)) {
      throw new InvalidResponseError(`get_token answered ${response.status} without {token, created_at, expires_at}`);
    }
    return { token: body.token, createdAt, expiresAt };
  }

  /** Revokes a service token of this app (seed 000 `revoke_token`); tokend answers the same for unknown tokens. */
  async revoke(token: string): Promise<void> {
    const response = await call(this.fetch, `${this.baseUrl}/api/auth/v1.0/revoke_token/`, {
      method: 'POST',
      headers: { authorization: `Token ${this.options.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    await response.body?.cancel();
    if (response.status === 401) throw new InvalidCredentialsError('tokend refused the master key');
    if (this.current?.token === token) this.current = null;
    if (this.superseded?.token === token) this.superseded = null;
  }
}
