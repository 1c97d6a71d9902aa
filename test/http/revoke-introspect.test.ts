import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mintSecret } from '../../src/core/tokens.js';
import {
  ADMIN_TOKEN,
  ISSUER,
  adminRequest,
  basic,
  createClient,
  createUser,
  json,
  login,
  me,
  postForm,
  refresh,
  startHarness,
  type Client,
  type Harness,
} from '../helpers/harness.js';

let h: Harness;
let defaultClient: Client;

before(async () => {
  h = await startHarness();
  defaultClient = { id: h.defaultApp.id, clientId: h.clientId, clientSecret: h.clientSecret };
});
after(() => h.close());

const clientAuth = (client: Client) => ({ authorization: basic(client.clientId, client.clientSecret) });

const revoke = (token: string, client: Client = defaultClient, extra: Record<string, string> = {}) =>
  postForm(h, '/oauth/revoke', { token, ...extra }, clientAuth(client));

const introspectAs = (token: string, headers: Record<string, string>) => postForm(h, '/oauth/introspect', { token }, headers);

async function introspect(token: string, client: Client = defaultClient): Promise<Record<string, unknown>> {
  const response = await introspectAs(token, clientAuth(client));
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  return json(response);
}

async function assertDead(token: string, client: Client = defaultClient): Promise<void> {
  assert.deepEqual(await introspect(token, client), { active: false });
}

describe('POST /oauth/revoke (RFC 7009)', () => {
  test('answers 200 for an unknown token and for a malformed one', async () => {
    for (const token of [mintSecret('access'), mintSecret('refresh'), 'not-a-token', 'eyJhbGciOiJub25lIn0.e30.']) {
      const response = await revoke(token);
      assert.equal(response.statusCode, 200, token);
    }
  });

  test('revoking an access token makes /v1/me refuse it and leaves the refresh token alive', async () => {
    const tokens = await login(h, await createUser(h, 'revoke-access'));
    assert.equal((await me(h, tokens.access_token)).statusCode, 200);
    assert.equal((await revoke(tokens.access_token, defaultClient, { token_type_hint: 'access_token' })).statusCode, 200);
    const refused = await me(h, tokens.access_token);
    assert.equal(refused.statusCode, 401);
    assert.match(String(refused.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
    assert.equal((await introspect(tokens.refresh_token)).active, true);
  });

  test('revoking a refresh token revokes its whole session, access token included', async () => {
    const tokens = await login(h, await createUser(h, 'revoke-refresh'));
    assert.equal((await revoke(tokens.refresh_token)).statusCode, 200);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    await assertDead(tokens.access_token);
    await assertDead(tokens.refresh_token);
    const renewed = await refresh(h, tokens.refresh_token);
    assert.equal(renewed.statusCode, 400);
    assert.equal(json(renewed).error, 'invalid_grant');
  });

  test('a request without a token is 400 invalid_request', async () => {
    for (const form of [{}, { token: '' }] as Array<Record<string, string>>) {
      const response = await postForm(h, '/oauth/revoke', form, clientAuth(defaultClient));
      assert.equal(response.statusCode, 400);
      assert.equal(json(response).error, 'invalid_request');
    }
  });

  test('a request without valid client authentication is 401 invalid_client', async () => {
    const anonymous = await postForm(h, '/oauth/revoke', { token: mintSecret('access') });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(json(anonymous).error, 'invalid_client');

    const wrongSecret = await postForm(h, '/oauth/revoke', { token: mintSecret('access') }, { authorization: basic(h.clientId, mintSecret('clientSecret')) });
    assert.equal(wrongSecret.statusCode, 401);
    assert.equal(json(wrongSecret).error, 'invalid_client');
    assert.match(String(wrongSecret.headers['www-authenticate']), /^Basic /);
  });

  test("an app cannot revoke another app's tokens: 200, and the tokens still work", async () => {
    const appA = await createClient(h);
    const appB = await createClient(h);
    const tokens = await login(h, await createUser(h, 'revoke-foreign'), {}, appA);
    for (const token of [tokens.access_token, tokens.refresh_token]) {
      assert.equal((await revoke(token, appB)).statusCode, 200);
    }
    assert.equal((await me(h, tokens.access_token)).statusCode, 200);
    assert.equal((await introspect(tokens.refresh_token, appA)).active, true);
  });
});

describe('POST /oauth/introspect (RFC 7662)', () => {
  test('an active user token is described in full, with aud defaulting to the issuer', async () => {
    const user = await createUser(h, 'introspect-full');
    const tokens = await login(h, user);
    const self = json(await me(h, tokens.access_token));
    const now = Math.floor(h.clock.now() / 1000);
    assert.deepEqual(await introspect(tokens.access_token), {
      active: true,
      scope: '',
      client_id: h.clientId,
      username: 'introspect-full',
      token_type: 'Bearer',
      exp: now + 7200,
      iat: now,
      sub: String(user.id),
      aud: ISSUER,
      iss: ISSUER,
      jti: self.token.id,
      kind: 'access',
      session_id: self.token.session_id,
      install_id: null,
    });
    const refreshAnswer = await introspect(tokens.refresh_token);
    assert.equal(refreshAnswer.token_type, 'refresh_token');
    assert.equal(refreshAnswer.kind, 'refresh');
    assert.equal(refreshAnswer.exp, now + 14 * 86_400);
    assert.equal(refreshAnswer.session_id, self.token.session_id);
  });

  test("aud is the app's audience when it has one, and scope lists the granted scopes", async () => {
    const client = await createClient(h, { audience: 'https://api.example.com', scopes: ['read', 'write'] });
    const user = await createUser(h, 'introspect-aud');
    const tokens = await login(h, user, { scope: 'write read' }, client);
    const answer = await introspect(tokens.access_token, client);
    assert.equal(answer.aud, 'https://api.example.com');
    assert.equal(answer.iss, ISSUER);
    assert.equal(answer.scope, 'write read');
    assert.equal(answer.client_id, client.clientId);
    assert.equal(answer.sub, String(user.id));
  });

  test('a repeat answer follows a change to the app: its audience, then its deletion', async () => {
    const client = await createClient(h);
    const tokens = await login(h, await createUser(h, 'introspect-repeat'), {}, client);
    assert.equal((await introspect(tokens.access_token, client)).aud, ISSUER);
    assert.equal((await introspect(tokens.access_token, client)).aud, ISSUER, 'a repeat, from the caches');
    const patched = await adminRequest(h, 'PATCH', `/apps/${client.id}`, { audience: 'https://changed.example.com' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal((await introspect(tokens.access_token, client)).aud, 'https://changed.example.com');
    const operator = { authorization: `Bearer ${ADMIN_TOKEN}` };
    assert.equal(json(await introspectAs(tokens.access_token, operator)).active, true);
    assert.equal((await adminRequest(h, 'DELETE', `/apps/${client.id}`)).statusCode, 204);
    assert.deepEqual(json(await introspectAs(tokens.access_token, operator)), { active: false });
  });

  test('a repeat answer ends with its token: revoked, then another app asking', async () => {
    const client = await createClient(h);
    const tokens = await login(h, await createUser(h, 'introspect-repeat-revoked'), {}, client);
    const first = await introspect(tokens.access_token, client);
    assert.equal(first.active, true);
    assert.deepEqual(await introspect(tokens.access_token, client), first, 'a repeat, from the caches');
    assert.deepEqual(await introspect(tokens.access_token), { active: false }, "another app's token is not described");
    assert.equal((await revoke(tokens.access_token, client)).statusCode, 200);
    await assertDead(tokens.access_token, client);
  });

  test('a client_credentials token has the client as subject and no username', async () => {
    const client = await createClient(h, { scopes: ['jobs'] });
    const issued = await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, clientAuth(client));
    assert.equal(issued.statusCode, 200, issued.body);
    const answer = await introspect(json(issued).access_token, client);
    assert.equal(answer.active, true);
    assert.equal(answer.sub, client.clientId);
    assert.equal(answer.client_id, client.clientId);
    assert.equal(answer.scope, 'jobs');
    assert.equal(answer.session_id, null);
    assert.equal('username' in answer, false);
  });

  test("unknown, malformed, revoked and another app's tokens are {active: false} and nothing else", async () => {
    const other = await createClient(h);
    const tokens = await login(h, await createUser(h, 'introspect-inactive'));
    const revoked = await login(h, await createUser(h, 'introspect-revoked'));
    await revoke(revoked.access_token);
    for (const token of [mintSecret('access'), 'garbage', tokens.access_token.slice(0, -1) + (tokens.access_token.endsWith('x') ? 'y' : 'x'), revoked.access_token]) {
      await assertDead(token);
    }
    await assertDead(tokens.access_token, other);
    await assertDead(tokens.refresh_token, other);
    assert.equal((await introspect(tokens.access_token)).active, true);
  });

  test('an expired token is {active: false}', async () => {
    const tokens = await login(h, await createUser(h, 'introspect-expired'));
    h.clock.advance(7199 * 1000);
    assert.equal((await introspect(tokens.access_token)).active, true);
    h.clock.advance(1000);
    await assertDead(tokens.access_token);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
  });

  test("an operator token can introspect any app's token; a wrong bearer is 401", async () => {
    const client = await createClient(h);
    const tokens = await login(h, await createUser(h, 'introspect-operator'), {}, client);
    const answer = await introspectAs(tokens.access_token, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(json(answer).active, true);
    assert.equal(json(answer).client_id, client.clientId);

    for (const bearer of [`${ADMIN_TOKEN}x`, tokens.access_token, mintSecret('operator')]) {
      const refused = await introspectAs(tokens.access_token, { authorization: `Bearer ${bearer}` });
      assert.equal(refused.statusCode, 401, bearer);
      assert.equal(json(refused).active, undefined);
    }
  });

  test('a request without client authentication is 401 invalid_client', async () => {
    const response = await introspectAs(mintSecret('access'), {});
    assert.equal(response.statusCode, 401);
    assert.equal(json(response).error, 'invalid_client');
  });
});

describe('disabled users and deleted apps', () => {
  test('disabling a user kills its access, refresh and API tokens at once; enabling again does not revive them', async () => {
    const user = await createUser(h, 'to-disable');
    const tokens = await login(h, user);
    const made = await adminRequest(h, 'POST', `/users/${user.id}/api-tokens`, { app_id: h.defaultApp.id, name: 'ci' });
    assert.equal(made.statusCode, 201, made.body);
    const apiToken = json<{ token: string }>(made).token;
    const all = [tokens.access_token, tokens.refresh_token, apiToken];
    for (const token of all) assert.equal((await introspect(token)).active, true);
    assert.equal((await me(h, apiToken, 'Token')).statusCode, 200);

    assert.equal((await adminRequest(h, 'PATCH', `/users/${user.id}`, { disabled: true })).statusCode, 200);
    for (const token of all) await assertDead(token);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await me(h, apiToken, 'Token')).statusCode, 401);

    const enabled = await adminRequest(h, 'PATCH', `/users/${user.id}`, { disabled: false });
    assert.equal(json(enabled).disabled, false);
    for (const token of all) await assertDead(token);
    assert.equal((await me(h, apiToken, 'Token')).statusCode, 401);
    assert.equal((await refresh(h, tokens.refresh_token)).statusCode, 400);
    assert.equal((await me(h, (await login(h, user)).access_token)).statusCode, 200);
  });

  test('deleting an app kills its tokens, and its client can no longer authenticate', async () => {
    const client = await createClient(h, { grants: ['password', 'refresh_token', 'client_credentials'] });
    const tokens = await login(h, await createUser(h, 'app-deleted'), {}, client);
    const service = json((await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, clientAuth(client)))).access_token as string;
    assert.equal((await adminRequest(h, 'DELETE', `/apps/${client.id}`)).statusCode, 204);

    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    for (const token of [tokens.access_token, tokens.refresh_token, service]) {
      const answer = await introspectAs(token, { authorization: `Bearer ${ADMIN_TOKEN}` });
      assert.deepEqual(json(answer), { active: false });
    }
    const cannot = [
      await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, clientAuth(client)),
      await refresh(h, tokens.refresh_token, {}, client),
      await introspectAs(tokens.access_token, clientAuth(client)),
      await revoke(tokens.access_token, client),
    ];
    for (const response of cannot) {
      assert.equal(response.statusCode, 401, response.body);
      assert.equal(json(response).error, 'invalid_client');
    }
  });
});

describe('GET /.well-known/oauth-authorization-server (RFC 8414)', () => {
  test('names the issuer, the endpoints, the JWKS, the grant types and the client auth methods', async () => {
    const response = await h.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    assert.equal(response.statusCode, 200);
    const metadata = json(response);
    assert.equal(metadata.issuer, ISSUER);
    assert.equal(metadata.token_endpoint, `${ISSUER}/oauth/token`);
    assert.equal(metadata.revocation_endpoint, `${ISSUER}/oauth/revoke`);
    assert.equal(metadata.introspection_endpoint, `${ISSUER}/oauth/introspect`);
    assert.equal(metadata.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    assert.deepEqual([...metadata.grant_types_supported].sort(), ['client_credentials', 'password', 'refresh_token']);
    for (const field of ['token_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported']) {
      assert.ok(metadata[field].includes('client_secret_basic'), field);
      assert.ok(metadata[field].includes('client_secret_post'), field);
    }
    const jwks = await h.app.inject({ method: 'GET', url: new URL(metadata.jwks_uri).pathname });
    assert.equal(jwks.statusCode, 200);
    assert.ok(json(jwks).keys.length >= 1);
  });
});
