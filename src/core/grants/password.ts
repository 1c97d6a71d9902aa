import { InvalidRequest } from '../errors.js';
import { loginWithPassword } from '../login.js';
import type { Grant } from './types.js';

/** RFC 6749 §4.3: resource owner password credentials; starts a session. */
export const passwordGrant: Grant = async (core, { app, params, ip, userAgent, gone }) => {
  const { username, password } = params;
  if (username === undefined || username === '') throw new InvalidRequest('username is required');
  if (password === undefined) throw new InvalidRequest('password is required');
  const { set } = await loginWithPassword(core, {
    app,
    username,
    password,
    ...(params.scope !== undefined && { scope: params.scope }),
    ...(params.device_info !== undefined && { deviceInfo: params.device_info }),
    ip,
    userAgent,
    door: 'oauth',
    gone,
  });
  return set;
};
