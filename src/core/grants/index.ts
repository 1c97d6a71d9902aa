import { UnsupportedGrantType } from '../errors.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { Grant } from './types.js';

const GRANTS: Readonly<Record<string, Grant>> = {
  password: passwordGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
};

export function grantFor(grantType: string): Grant {
  const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
  if (grant === undefined) throw new UnsupportedGrantType(`grant_type "${grantType.slice(0, 40)}" is not supported`);
  return grant;
}

export type { Grant, GrantRequest } from './types.js';
