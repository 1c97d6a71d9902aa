import type { App, AuditEvent, MasterKey, Session, Token, User } from '../core/model.js';

/* Wire representations of the domain: snake_case, ISO 8601 UTC times, never a secret or a hash. */

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function appView(app: App): Record<string, unknown> {
  return {
    id: app.id,
    client_id: app.clientId,
    name: app.name,
    grants: app.grants,
    scopes: app.scopes,
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
    created_at: iso(app.createdAt),
    updated_at: iso(app.updatedAt),
  };
}

export function userView(user: User): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    user_profile_id: user.userProfileId,
    disabled: user.disabled,
    created_at: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
  };
}

export function sessionView(session: Session): Record<string, unknown> {
  return {
    id: session.id,
    app_id: session.appId,
    device_info: session.deviceInfo,
    ip: session.ip,
    user_agent: session.userAgent,
    created_at: iso(session.createdAt),
    last_used_at: iso(session.lastUsedAt),
  };
}

export function tokenView(token: Token): Record<string, unknown> {
  return {
    id: token.id,
    kind: token.kind,
    format: token.format,
    app_id: token.appId,
    user_id: token.userId,
    session_id: token.sessionId,
    install_id: token.installId,
    name: token.name,
    scopes: token.scopes,
    created_at: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    revoked_at: iso(token.revokedAt),
    last_used_at: iso(token.lastUsedAt),
    used_at: iso(token.usedAt),
  };
}

export function masterKeyView(key: MasterKey): Record<string, unknown> {
  return {
    id: key.id,
    app_id: key.appId,
    name: key.name,
    created_at: iso(key.createdAt),
    revoked_at: iso(key.revokedAt),
    last_used_at: iso(key.lastUsedAt),
  };
}

export function auditView(event: AuditEvent): Record<string, unknown> {
  return {
    id: event.id,
    at: iso(event.at),
    action: event.action,
    actor: event.actor,
    app_id: event.appId,
    user_id: event.userId,
    session_id: event.sessionId,
    token_id: event.tokenId,
    ip: event.ip,
    detail: event.detail,
  };
}
