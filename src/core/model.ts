import type { TokenKind } from './tokens.js';

export type GrantType = 'password' | 'refresh_token' | 'client_credentials';
export type TokenFormat = 'opaque' | 'jwt';

/** An OAuth client and its token policy (SPEC §2). TTLs are in seconds. */
export interface App {
  id: string;
  clientId: string;
  clientSecretHash: string;
  name: string;
  grants: GrantType[];
  scopes: string[];
  accessTokenFormat: TokenFormat;
  serviceTokenFormat: TokenFormat;
  /** `aud` of this app's JWTs; null means the issuer URL. */
  audience: string | null;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  serviceTokenTtl: number;
  installTokenTtl: number;
  /** Lifetime of the `/v1/oauth/` dialect's opaque access token. */
  deviceTokenTtl: number;
  refreshReuseGraceSeconds: number;
  deeplinkTemplate: string;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

export interface User {
  id: number;
  userProfileId: string;
  username: string;
  passwordHash: string;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** One login of one user on one device through one app. */
export interface Session {
  id: string;
  userId: number;
  appId: string;
  deviceInfo: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: number;
  lastUsedAt: number;
  revokedAt: number | null;
}

export interface Token {
  id: string;
  /**
   * What the store finds the token by (`tokenKey`): an opaque token's locator
   * then the SHA-256 hex of the secret, or a JWT's SHA-256 alone (and an
   * opaque token's, if issued before tokens had locators). The secret itself
   * is never stored.
   */
  hash: string;
  kind: TokenKind;
  format: TokenFormat;
  appId: string;
  userId: number | null;
  sessionId: string | null;
  /** The token that minted this one (an install token's API or access token); revoking it revokes this. */
  parentId: string | null;
  /** The master key that minted this service token. */
  masterKeyId: string | null;
  installId: string | null;
  name: string | null;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** Refresh tokens: when it was rotated, into which successor, and the sealed successor pair (grace > 0). */
  usedAt: number | null;
  successorId: string | null;
  successorSealed: string | null;
}

export interface MasterKey {
  id: string;
  appId: string;
  hash: string;
  name: string | null;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface OperatorToken {
  id: string;
  hash: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export type SigningAlg = 'ES256' | 'RS256' | 'EdDSA';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  /** Null while the key is the pre-published "next" key. */
  activatedAt: number | null;
  retiredAt: number | null;
  /** A retired key stays in the JWKS until every token it signed has expired. */
  publishedUntil: number | null;
}

export interface AuditEvent {
  id: number;
  at: number;
  action: string;
  actor: string;
  appId: string | null;
  userId: number | null;
  sessionId: string | null;
  tokenId: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'appId' | 'userId' | 'sessionId' | 'tokenId' | 'ip' | 'detail'> &
  Partial<Pick<AuditEvent, 'appId' | 'userId' | 'sessionId' | 'tokenId' | 'ip' | 'detail'>>;
