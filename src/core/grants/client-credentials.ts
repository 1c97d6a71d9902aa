import { UnauthorizedClient } from '../errors.js';
import { mintToken, tokenSet } from '../issuance.js';
import { grantScopes } from '../scopes.js';
import type { Grant } from './types.js';

/** RFC 6749 §4.4: an access token for the app itself; no user, no session, no refresh token. */
export const clientCredentialsGrant: Grant = async (core, { app, params, ip }) => {
  if (!app.grants.includes('client_credentials')) throw new UnauthorizedClient('this client may not use the client_credentials grant');
  const scopes = grantScopes(params.scope, app.scopes);
  const access = await mintToken(core, {
    kind: 'access',
    app,
    userId: null,
    sessionId: null,
    scopes,
    ttlSeconds: app.accessTokenTtl,
    format: app.accessTokenFormat,
  });
  await core.store.insertTokens(
    [access.record],
    core.audit.announce('token.issued', `app:${app.clientId}`, {
      appId: app.id,
      tokenId: access.record.id,
      ip,
      detail: { grant: 'client_credentials' },
    }),
  );
  return tokenSet(access, null, app.accessTokenTtl);
};
