import { InvalidRequest, UnauthorizedClient } from '../errors.js';
import { startSession } from '../issuance.js';
import { grantScopes } from '../scopes.js';
import { authenticateUser } from '../users.js';
import type { Grant } from './types.js';

/** RFC 6749 §4.3: resource owner password credentials; starts a session. */
export const passwordGrant: Grant = async (core, { app, params, ip, userAgent }) => {
  if (!app.grants.includes('password')) throw new UnauthorizedClient('this client may not use the password grant');
  const { username, password } = params;
  if (username === undefined || username === '') throw new InvalidRequest('username is required');
  if (password === undefined) throw new InvalidRequest('password is required');
  const scopes = grantScopes(params.scope, app.scopes);
  const user = await authenticateUser(core, { app, username, password, ip });
  const { set } = await startSession(core, {
    app,
    user,
    scopes,
    ...(params.device_info !== undefined && { deviceInfo: params.device_info }),
    ip,
    userAgent,
    refresh: app.grants.includes('refresh_token'),
  });
  return set;
};
