import type { Core } from './context.js';
import { UnauthorizedClient } from './errors.js';
import { startSession, type TokenSet } from './issuance.js';
import type { App, Session, TokenFormat } from './model.js';
import { grantScopes } from './scopes.js';
import { authenticateUser } from './users.js';

export interface PasswordLogin {
  app: App;
  username: string;
  password: string;
  scope?: string;
  deviceInfo?: string;
  ip: string | null;
  userAgent: string | null;
  /** Which door the login came through, for the audit log: `oauth`, `jsonapi`, `v1-oauth`… */
  door: string;
  /** A door may fix the access token's format and lifetime and whether a refresh token comes with it. */
  accessFormat?: TokenFormat;
  accessTtl?: number;
  refresh?: boolean;
  /** Whether the client has hung up: a login still waiting for a hashing thread is then dropped (ClientGone). */
  gone?: () => boolean;
}

/**
 * A password login through any door: the app must allow the password grant,
 * the scopes must be the app's, and the user is checked with the same limits,
 * dummy hash and single failure answer whichever door was used.
 */
export async function loginWithPassword(core: Core, login: PasswordLogin): Promise<{ session: Session; set: TokenSet }> {
  const { app } = login;
  if (!app.grants.includes('password')) throw new UnauthorizedClient('this client may not use the password grant');
  const scopes = grantScopes(login.scope, app.scopes);
  const user = await authenticateUser(core, { app, username: login.username, password: login.password, ip: login.ip, gone: login.gone });
  return startSession(core, {
    app,
    user,
    scopes,
    ...(login.deviceInfo !== undefined && { deviceInfo: login.deviceInfo }),
    ip: login.ip,
    userAgent: login.userAgent,
    door: login.door,
    refresh: login.refresh ?? app.grants.includes('refresh_token'),
    ...(login.accessFormat !== undefined && { accessFormat: login.accessFormat }),
    ...(login.accessTtl !== undefined && { accessTtl: login.accessTtl }),
  });
}
