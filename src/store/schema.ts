import type { Generated, Insertable, Selectable } from 'kysely';
import type {
  App,
  AuditEvent,
  GrantType,
  MasterKey,
  NewAuditEvent,
  OperatorToken,
  Session,
  SigningAlg,
  SigningKey,
  Token,
  TokenFormat,
  User,
} from '../core/model.js';
import type { TokenKind } from '../core/tokens.js';

/* The tables as the database sees them: snake_case, timestamps in ms, lists as text. */

export interface AppsTable {
  id: string;
  client_id: string;
  client_secret_hash: string;
  name: string;
  grants: string;
  scopes: string;
  access_token_format: string;
  service_token_format: string;
  audience: string | null;
  access_token_ttl: number;
  refresh_token_ttl: number;
  service_token_ttl: number;
  install_token_ttl: number;
  device_token_ttl: number;
  refresh_reuse_grace_seconds: number;
  deeplink_template: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface UsersTable {
  id: Generated<number>;
  user_profile_id: string;
  username: string;
  username_key: string;
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  app_id: string;
  device_info: string;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_used_at: number;
  revoked_at: number | null;
}

export interface TokensTable {
  id: string;
  hash: string;
  kind: string;
  format: string;
  app_id: string;
  user_id: number | null;
  session_id: string | null;
  parent_id: string | null;
  master_key_id: string | null;
  install_id: string | null;
  name: string | null;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  used_at: number | null;
  successor_id: string | null;
  successor_sealed: string | null;
}

export interface MasterKeysTable {
  id: string;
  app_id: string;
  hash: string;
  name: string | null;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface OperatorTokensTable {
  id: string;
  hash: string;
  name: string;
  created_at: number;
  revoked_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  published_until: number | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  action: string;
  actor: string;
  app_id: string | null;
  user_id: number | null;
  session_id: string | null;
  token_id: string | null;
  ip: string | null;
  detail: string | null;
}

export interface Database {
  apps: AppsTable;
  users: UsersTable;
  sessions: SessionsTable;
  tokens: TokensTable;
  master_keys: MasterKeysTable;
  operator_tokens: OperatorTokensTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
}

const words = (text: string): string[] => (text === '' ? [] : text.split(' '));

export const toAppRow = (app: App): AppsTable => ({
  id: app.id,
  client_id: app.clientId,
  client_secret_hash: app.clientSecretHash,
  name: app.name,
  grants: app.grants.join(' '),
  scopes: app.scopes.join(' '),
  access_token_format: app.accessTokenFormat,
  service_token_format: app.serviceTokenFormat,
  audience: app.audience,
  access_token_ttl: app.accessTokenTtl,
  refresh_token_ttl: app.refreshTokenTtl,
  service_token_ttl: app.serviceTokenTtl,
  install_token_ttl: app.installTokenTtl,
  device_token_ttl: app.deviceTokenTtl,
  refresh_reuse_grace_seconds: app.refreshReuseGraceSeconds,
  deeplink_template: app.deeplinkTemplate,
  created_at: app.createdAt,
  updated_at: app.updatedAt,
  deleted_at: app.deletedAt,
});

export const fromAppRow = (row: Selectable<AppsTable>): App => ({
  id: row.id,
  clientId: row.client_id,
  clientSecretHash: row.client_secret_hash,
  name: row.name,
  grants: words(row.grants) as GrantType[],
  scopes: words(row.scopes),
  accessTokenFormat: row.access_token_format as TokenFormat,
  serviceTokenFormat: row.service_token_format as TokenFormat,
  audience: row.audience,
  accessTokenTtl: Number(row.access_token_ttl),
  refreshTokenTtl: Number(row.refresh_token_ttl),
  serviceTokenTtl: Number(row.service_token_ttl),
  installTokenTtl: Number(row.install_token_ttl),
  deviceTokenTtl: Number(row.device_token_ttl),
  refreshReuseGraceSeconds: Number(row.refresh_reuse_grace_seconds),
  deeplinkTemplate: row.deeplink_template,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
  deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
});

const num = (value: number | null): number | null => (value === null ? null : Number(value));

export const fromUserRow = (row: Selectable<UsersTable>): User => ({
  id: Number(row.id),
  userProfileId: row.user_profile_id,
  username: row.username,
  passwordHash: row.password_hash,
  disabled: Number(row.disabled) === 1,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export const toSessionRow = (s: Session): SessionsTable => ({
  id: s.id,
  user_id: s.userId,
  app_id: s.appId,
  device_info: s.deviceInfo,
  ip: s.ip,
  user_agent: s.userAgent,
  created_at: s.createdAt,
  last_used_at: s.lastUsedAt,
  revoked_at: s.revokedAt,
});

export const fromSessionRow = (row: Selectable<SessionsTable>): Session => ({
  id: row.id,
  userId: Number(row.user_id),
  appId: row.app_id,
  deviceInfo: row.device_info,
  ip: row.ip,
  userAgent: row.user_agent,
  createdAt: Number(row.created_at),
  lastUsedAt: Number(row.last_used_at),
  revokedAt: num(row.revoked_at),
});

export const toTokenRow = (t: Token): TokensTable => ({
  id: t.id,
  hash: t.hash,
  kind: t.kind,
  format: t.format,
  app_id: t.appId,
  user_id: t.userId,
  session_id: t.sessionId,
  parent_id: t.parentId,
  master_key_id: t.masterKeyId,
  install_id: t.installId,
  name: t.name,
  scopes: t.scopes.join(' '),
  created_at: t.createdAt,
  expires_at: t.expiresAt,
  revoked_at: t.revokedAt,
  last_used_at: t.lastUsedAt,
  used_at: t.usedAt,
  successor_id: t.successorId,
  successor_sealed: t.successorSealed,
});

export const fromTokenRow = (row: Selectable<TokensTable>): Token => ({
  id: row.id,
  hash: row.hash,
  kind: row.kind as TokenKind,
  format: row.format as TokenFormat,
  appId: row.app_id,
  userId: num(row.user_id),
  sessionId: row.session_id,
  parentId: row.parent_id,
  masterKeyId: row.master_key_id,
  installId: row.install_id,
  name: row.name,
  scopes: words(row.scopes),
  createdAt: Number(row.created_at),
  expiresAt: num(row.expires_at),
  revokedAt: num(row.revoked_at),
  lastUsedAt: num(row.last_used_at),
  usedAt: num(row.used_at),
  successorId: row.successor_id,
  successorSealed: row.successor_sealed,
});

export const fromMasterKeyRow = (row: Selectable<MasterKeysTable>): MasterKey => ({
  id: row.id,
  appId: row.app_id,
  hash: row.hash,
  name: row.name,
  createdAt: Number(row.created_at),
  revokedAt: num(row.revoked_at),
  lastUsedAt: num(row.last_used_at),
});

export const fromOperatorTokenRow = (row: Selectable<OperatorTokensTable>): OperatorToken => ({
  id: row.id,
  hash: row.hash,
  name: row.name,
  createdAt: Number(row.created_at),
  revokedAt: num(row.revoked_at),
});

export const fromSigningKeyRow = (row: Selectable<SigningKeysTable>): SigningKey => ({
  kid: row.kid,
  alg: row.alg as SigningAlg,
  privateJwk: row.private_jwk,
  publicJwk: row.public_jwk,
  createdAt: Number(row.created_at),
  activatedAt: num(row.activated_at),
  retiredAt: num(row.retired_at),
  publishedUntil: num(row.published_until),
});

export const toSigningKeyRow = (k: SigningKey): SigningKeysTable => ({
  kid: k.kid,
  alg: k.alg,
  private_jwk: k.privateJwk,
  public_jwk: k.publicJwk,
  created_at: k.createdAt,
  activated_at: k.activatedAt,
  retired_at: k.retiredAt,
  published_until: k.publishedUntil,
});

export const toAuditRow = (event: NewAuditEvent): Insertable<AuditEventsTable> => ({
  at: event.at,
  action: event.action,
  actor: event.actor,
  app_id: event.appId ?? null,
  user_id: event.userId ?? null,
  session_id: event.sessionId ?? null,
  token_id: event.tokenId ?? null,
  ip: event.ip ?? null,
  detail: event.detail === undefined || event.detail === null ? null : JSON.stringify(event.detail),
});

export const fromAuditRow = (row: Selectable<AuditEventsTable>): AuditEvent => ({
  id: Number(row.id),
  at: Number(row.at),
  action: row.action,
  actor: row.actor,
  appId: row.app_id,
  userId: num(row.user_id),
  sessionId: row.session_id,
  tokenId: row.token_id,
  ip: row.ip,
  detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
});
