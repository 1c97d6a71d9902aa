import type { Core } from './context.js';
import { InvalidRequest } from './errors.js';
import { timeOrderedId } from './ids.js';
import { signAccessToken } from './jwt.js';
import type { App, Session, Token, TokenFormat, User } from './model.js';
import { mintTokenSecret, tokenKey, type TokenKind } from './tokens.js';

export interface MintSpec {
  kind: TokenKind;
  app: App;
  userId: number | null;
  sessionId: string | null;
  scopes: string[];
  /** Null only for an API token made without expiry. */
  ttlSeconds: number | null;
  format?: TokenFormat;
  installId?: string | null;
  parentId?: string | null;
  masterKeyId?: string | null;
  name?: string | null;
}

export interface Minted {
  /** The token as the client sees it: in plaintext only here, never stored. */
  secret: string;
  record: Token;
}

/** A new token of any kind, opaque or JWT, and the row the store keeps for it (its hash, never itself). */
export async function mintToken(core: Core, spec: MintSpec): Promise<Minted> {
  const now = core.clock.now();
  const id = timeOrderedId(now);
  const format = spec.format ?? 'opaque';
  const expiresAt = spec.ttlSeconds === null ? null : now + spec.ttlSeconds * 1000;
  let secret: string;
  if (format === 'jwt') {
    if (expiresAt === null) throw new Error('a JWT needs an expiry');
    const iat = Math.floor(now / 1000);
    secret = signAccessToken(core.keys, {
      iss: core.settings.issuer,
      sub: spec.userId === null ? spec.app.clientId : String(spec.userId),
      aud: spec.app.audience ?? core.settings.issuer,
      iat,
      exp: iat + (spec.ttlSeconds ?? 0),
      jti: id,
      client_id: spec.app.clientId,
      scope: spec.scopes.join(' '),
      ...(spec.sessionId !== null && { sid: spec.sessionId }),
    });
  } else {
    secret = mintTokenSecret(spec.kind, now);
  }
  return {
    secret,
    record: {
      id,
      hash: tokenKey(secret),
      kind: spec.kind,
      format,
      appId: spec.app.id,
      userId: spec.userId,
      sessionId: spec.sessionId,
      parentId: spec.parentId ?? null,
      masterKeyId: spec.masterKeyId ?? null,
      installId: spec.installId ?? null,
      name: spec.name ?? null,
      scopes: spec.scopes,
      createdAt: now,
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
      usedAt: null,
      successorId: null,
      successorSealed: null,
    },
  };
}

/** What a token endpoint answers, in tokend's words; each dialect renders it in its own shape. */
export interface TokenSet {
  accessToken: string;
  accessTokenId: string;
  /** Seconds from issuance; and the absolute expiry in ms. */
  expiresIn: number;
  expiresAt: number;
  refreshToken: string | null;
  refreshTokenId: string | null;
  scopes: string[];
  sessionId: string | null;
  issuedAt: number;
}

/** The access and refresh tokens of a session, built but not yet stored. */
export async function mintSessionTokens(
  core: Core,
  options: {
    app: App;
    userId: number;
    sessionId: string;
    scopes: string[];
    refreshScopes?: string[];
    accessTtl?: number;
    accessFormat?: TokenFormat;
    refresh: boolean;
  },
): Promise<{ set: TokenSet; records: Token[] }> {
  const { app, userId, sessionId, scopes } = options;
  const ttl = options.accessTtl ?? app.accessTokenTtl;
  const format = options.accessFormat ?? app.accessTokenFormat;
  const access = await mintToken(core, { kind: 'access', app, userId, sessionId, scopes, ttlSeconds: ttl, format });
  const refresh = options.refresh
    ? await mintToken(core, { kind: 'refresh', app, userId, sessionId, scopes: options.refreshScopes ?? scopes, ttlSeconds: app.refreshTokenTtl })
    : null;
  return {
    set: tokenSet(access, refresh, ttl),
    records: refresh === null ? [access.record] : [access.record, refresh.record],
  };
}

/** What a token endpoint answers for a minted access token and, maybe, its refresh token. */
export function tokenSet(access: Minted, refresh: Minted | null, ttlSeconds: number): TokenSet {
  return {
    accessToken: access.secret,
    accessTokenId: access.record.id,
    expiresIn: ttlSeconds,
    expiresAt: access.record.expiresAt ?? 0,
    refreshToken: refresh?.secret ?? null,
    refreshTokenId: refresh?.record.id ?? null,
    scopes: access.record.scopes,
    sessionId: access.record.sessionId,
    issuedAt: access.record.createdAt,
  };
}

export const MAX_DEVICE_INFO = 200;

export function checkDeviceInfo(deviceInfo: string | undefined): string {
  if (deviceInfo === undefined || deviceInfo.trim() === '') return 'Unknown';
  if (deviceInfo.length > MAX_DEVICE_INFO) throw new InvalidRequest(`device info is longer than ${MAX_DEVICE_INFO} characters`);
  return deviceInfo;
}

export interface SessionRequest {
  app: App;
  user: User;
  scopes: string[];
  deviceInfo?: string;
  ip: string | null;
  userAgent: string | null;
  /** Overrides of the app's access token lifetime and format (the `/v1/oauth/` dialect's 30-day opaque tokens, JSON:API's JWTs). */
  accessTtl?: number;
  accessFormat?: TokenFormat;
  refresh: boolean;
  /** The door the login came through, for the audit log. */
  door: string;
}

/** A login: a new session and its first tokens, stored in one transaction. */
export async function startSession(core: Core, request: SessionRequest): Promise<{ session: Session; set: TokenSet }> {
  const now = core.clock.now();
  const session: Session = {
    id: timeOrderedId(now),
    userId: request.user.id,
    appId: request.app.id,
    deviceInfo: checkDeviceInfo(request.deviceInfo),
    ip: request.ip,
    userAgent: request.userAgent === null ? null : request.userAgent.slice(0, 500),
    createdAt: now,
    lastUsedAt: now,
    revokedAt: null,
  };
  const { set, records } = await mintSessionTokens(core, {
    app: request.app,
    userId: request.user.id,
    sessionId: session.id,
    scopes: request.scopes,
    refresh: request.refresh,
    ...(request.accessTtl !== undefined && { accessTtl: request.accessTtl }),
    ...(request.accessFormat !== undefined && { accessFormat: request.accessFormat }),
  });
  await core.store.insertSession(
    session,
    records,
    core.audit.announce('token.issued', `user:${request.user.id}`, {
      appId: request.app.id,
      userId: request.user.id,
      sessionId: session.id,
      tokenId: set.accessTokenId,
      ip: request.ip,
      detail: { grant: 'password', door: request.door, refresh: set.refreshTokenId !== null },
    }),
  );
  return { session, set };
}
