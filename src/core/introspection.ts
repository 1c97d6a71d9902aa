import type { Core } from './context.js';
import type { App } from './model.js';
import { verifyToken } from './verification.js';

/** RFC 7662 §2.2 response, with tokend's `kind`, `session_id` and `install_id`. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      username?: string;
      token_type: string;
      exp?: number;
      iat: number;
      sub: string;
      aud: string;
      iss: string;
      jti: string;
      kind: string;
      session_id: string | null;
      install_id: string | null;
    };

const INACTIVE = { active: false } as const;

/**
 * Introspects a token for an app (which sees only its own tokens) or for an
 * operator (`app` null, sees all). Unknown, expired, revoked, used and foreign
 * tokens are all just inactive.
 */
export async function introspectToken(core: Core, presented: string, caller: App | null): Promise<Introspection> {
  // RFC 7662 is an OAuth endpoint: /oauth/introspect is its only door.
  const verified = await verifyToken(core, presented, 'oauth');
  if (verified === null) return INACTIVE;
  const { token, app, user } = verified;
  if (caller !== null && caller.id !== app.id) return INACTIVE;
  return {
    active: true,
    scope: token.scopes.join(' '),
    client_id: app.clientId,
    ...(user !== null && { username: user.username }),
    token_type: token.kind === 'refresh' ? 'refresh_token' : 'Bearer',
    ...(token.expiresAt !== null && { exp: Math.floor(token.expiresAt / 1000) }),
    iat: Math.floor(token.createdAt / 1000),
    sub: user !== null ? String(user.id) : app.clientId,
    aud: app.audience ?? core.settings.issuer,
    iss: core.settings.issuer,
    jti: token.id,
    kind: token.kind,
    session_id: token.sessionId,
    install_id: token.installId,
  };
}
