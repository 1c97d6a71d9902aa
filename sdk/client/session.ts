import { InvalidCredentialsError, InvalidResponseError, SessionEndedError, UnavailableError } from '../errors.js';
import { basicAuthorization, call, jsonOf, systemClock, trimSlash, type Clock, type Fetch } from '../http.js';

/** What a session holds between runs; times in ms since the epoch. */
export interface SessionTokens {
  accessToken: string;
  /** Null for seed 004 logins (`/v1/oauth/`), which have no refresh token: log in again at expiry. */
  refreshToken: string | null;
  issuedAt: number;
  expiresAt: number;
  /** The session's id where the door tells it (seed 001's document id). */
  sessionId: string | null;
}

/** Where a session keeps its tokens (a keychain, a file, a cookie jar); memory by default. Values are secrets. */
export interface TokenStorage {
  load(): Promise<SessionTokens | null> | SessionTokens | null;
  save(tokens: SessionTokens): Promise<void> | void;
  clear(): Promise<void> | void;
}

export class MemoryTokenStorage implements TokenStorage {
  private tokens: SessionTokens | null = null;
  load(): SessionTokens | null {
    return this.tokens;
  }
  save(tokens: SessionTokens): void {
    this.tokens = tokens;
  }
  clear(): void {
    this.tokens = null;
  }
}

/**
 * Which of tokend's login doors to speak: `oauth` is RFC 6749's password and
 * refresh grants (seed 003), `jsonapi` seed 001's `/api/auth/v1/access_tokens`,
 * `device` seed 004's `/v1/oauth/` (30-day opaque token, no refresh).
 */
export type LoginDoor = 'oauth' | 'jsonapi' | 'device';

export interface UserSessionOptions {
  baseUrl: string;
  door?: LoginDoor;
  /** The app; `oauth` needs both, the other doors use the default app when absent. */
  clientId?: string;
  clientSecret?: string;
  /** Refresh when this share of the access token's lifetime is left (default 0.1). */
  refreshBefore?: number;
  storage?: TokenStorage;
  fetch?: Fetch;
  clock?: Clock;
}

interface Answer {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: number;
  sessionId: string | null;
}

/**
 * A user's login on one device: log in, refresh ahead of expiry, log out. Of
 * any number of concurrent callers one refresh request goes out (single
 * flight), and the rotated refresh token replaces the old one before anyone
 * can use it again: tokend treats reuse of a rotated refresh token as theft
 * and ends the session (RFC 9700 §4.14.2).
 */
export class UserSession {
  private tokens: SessionTokens | null | undefined;
  private refreshing: Promise<SessionTokens> | null = null;
  private readonly fetch: Fetch;
  private readonly clock: Clock;
  private readonly storage: TokenStorage;
  private readonly baseUrl: string;
  private readonly door: LoginDoor;

  constructor(private readonly options: UserSessionOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
    this.storage = options.storage ?? new MemoryTokenStorage();
    this.baseUrl = trimSlash(options.baseUrl);
    this.door = options.door ?? 'oauth';
    if (this.door === 'oauth' && (options.clientId === undefined || options.clientSecret === undefined)) {
      throw new TypeError('the oauth door needs clientId and clientSecret');
    }
  }

  /** Logs in with a password; the tokens go to the storage. */
  async login(username: string, password: string, options: { deviceInfo?: string; scope?: string } = {}): Promise<SessionTokens> {
    const issuedAt = this.clock.now();
    const answer =
      this.door === 'oauth'
        ? await this.oauth({ grant_type: 'password', username, password, ...(options.scope && { scope: options.scope }), ...(options.deviceInfo && { device_info: options.deviceInfo }) })
        : this.door === 'jsonapi'
          ? await this.jsonApi({ username, password })
          : await this.deviceLogin({ username, password, ...(options.deviceInfo && { 'device-info': options.deviceInfo }) });
    return this.keep({ ...answer, issuedAt });
  }

  /** A live access token: refreshed first when inside the lead (one request however many callers wait). */
  async accessToken(): Promise<string> {
    const tokens = await this.current();
    if (tokens === null) throw new SessionEndedError('not logged in');
    const now = this.clock.now();
    const lead = (tokens.expiresAt - tokens.issuedAt) * (this.options.refreshBefore ?? 0.1);
    if (now < tokens.expiresAt - lead) return tokens.accessToken;
    if (tokens.refreshToken === null) {
      if (now < tokens.expiresAt) return tokens.accessToken;
      await this.forget();
      throw new SessionEndedError('the access token expired and this login has no refresh token: log in again');
    }
    try {
      return (await this.refresh()).accessToken;
    } catch (error) {
      // tokend down inside the lead: the current token still works until it expires.
      if (error instanceof UnavailableError && now < tokens.expiresAt) return tokens.accessToken;
      throw error;
    }
  }

  /**
   * Rotates the refresh token now. With `refused` (the access token a server
   * just answered 401 to), a token already replaced by another caller's refresh
   * is not refreshed again.
   */
  async refresh(refused?: string): Promise<SessionTokens> {
    const tokens = await this.current();
    if (refused !== undefined && tokens !== null && tokens.accessToken !== refused) return tokens;
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Ends the session at tokend (so its refresh token dies) and forgets the tokens; tokend being down still forgets them. */
  async logout(): Promise<void> {
    const tokens = await this.current();
    await this.forget();
    if (tokens === null) return;
    if (this.door === 'oauth' && tokens.refreshToken !== null) {
      // RFC 7009 §2.1: revoking the refresh token revokes the session's access tokens with it.
      await this.post('/oauth/revoke', { token: tokens.refreshToken, token_type_hint: 'refresh_token' }, true);
    } else if (this.door === 'jsonapi' && tokens.sessionId !== null) {
      const response = await call(this.fetch, `${this.baseUrl}/api/auth/v1/access_tokens/${encodeURIComponent(tokens.sessionId)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${tokens.accessToken}` },
      });
      await response.body?.cancel();
    } else {
      const response = await call(this.fetch, `${this.baseUrl}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${tokens.accessToken}` } });
      await response.body?.cancel();
    }
  }

  private async current(): Promise<SessionTokens | null> {
    if (this.tokens === undefined) this.tokens = (await this.storage.load()) ?? null;
    return this.tokens;
  }

  private async keep(tokens: SessionTokens): Promise<SessionTokens> {
    this.tokens = tokens;
    await this.storage.save(tokens);
    return tokens;
  }

  private async forget(): Promise<void> {
    this.tokens = null;
    await this.storage.clear();
  }

  private async rotate(): Promise<SessionTokens> {
    const tokens = await this.current();
    if (tokens?.refreshToken == null) throw new SessionEndedError('no refresh token: log in again');
    const issuedAt = this.clock.now();
    try {
      const answer =
        this.door === 'jsonapi'
          ? await this.jsonApi({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken })
          : await this.oauth({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken });
      return await this.keep({ ...answer, sessionId: answer.sessionId ?? tokens.sessionId, issuedAt });
    } catch (error) {
      if (error instanceof InvalidCredentialsError) {
        await this.forget();
        throw new SessionEndedError('tokend refused the refresh token (session revoked, expired, or the token was reused): log in again');
      }
      throw error;
    }
  }

  private async post(path: string, body: Record<string, string>, withClient: boolean): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (withClient && this.options.clientId !== undefined && this.options.clientSecret !== undefined) {
      headers.authorization = basicAuthorization(this.options.clientId, this.options.clientSecret);
    } else if (this.options.clientId !== undefined) {
      body = { ...body, client_id: this.options.clientId };
    }
    return call(this.fetch, `${this.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  /** RFC 6749 §4.3 / §6; 400 and 401 mean the credentials or the grant are not good (§5.2). */
  private async oauth(body: Record<string, string>): Promise<Answer> {
    const response = await this.post('/oauth/token', body, true);
    const json = await jsonOf<{ access_token?: string; refresh_token?: string; expires_in?: number; error?: string }>(response, '/oauth/token');
    if (response.status === 400 || response.status === 401) throw new InvalidCredentialsError(`tokend answered ${json.error ?? response.status}`);
    if (response.status !== 200 || typeof json.access_token !== 'string' || typeof json.expires_in !== 'number') {
      throw new InvalidResponseError(`/oauth/token answered ${response.status} without access_token and expires_in`);
    }
    return { accessToken: json.access_token, refreshToken: json.refresh_token ?? null, expiresAt: this.clock.now() + json.expires_in * 1000, sessionId: null };
  }

  private async jsonApi(attributes: Record<string, string>): Promise<Answer> {
    const response = await this.post('/api/auth/v1/access_tokens', attributes, false);
    type Document = { data?: Array<{ id?: string; attributes?: { access_token?: string; refresh_token?: string; expires_at_timestamp?: number } }> };
    const json = await jsonOf<Document>(response, '/api/auth/v1/access_tokens');
    if (response.status === 400 || response.status === 401) throw new InvalidCredentialsError(`tokend answered ${response.status}`);
    const item = json.data?.[0];
    const a = item?.attributes;
    if (response.status !== 201 || typeof a?.access_token !== 'string' || typeof a.expires_at_timestamp !== 'number') {
      throw new InvalidResponseError(`/api/auth/v1/access_tokens answered ${response.status} without an AuthenticationTokens document`);
    }
    return { accessToken: a.access_token, refreshToken: a.refresh_token ?? null, expiresAt: a.expires_at_timestamp * 1000, sessionId: item?.id ?? null };
  }

  private async deviceLogin(fields: Record<string, string>): Promise<Answer> {
    const response = await this.post('/v1/oauth/', fields, false);
    const json = await jsonOf<{ success?: boolean; data?: { access_token?: string; expiry?: number } }>(response, '/v1/oauth/');
    if (response.status === 400 || response.status === 401) throw new InvalidCredentialsError(`tokend answered ${response.status}`);
    if (json.success !== true || typeof json.data?.access_token !== 'string' || typeof json.data.expiry !== 'number') {
      throw new InvalidResponseError(`/v1/oauth/ answered ${response.status} without {success, data}`);
    }
    return { accessToken: json.data.access_token, refreshToken: null, expiresAt: json.data.expiry * 1000, sessionId: null };
  }
}
