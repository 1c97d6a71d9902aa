import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { parseSecret } from '../../src/core/tokens.js';
import { adminRequest, createUser, json, startHarness, type Harness } from '../helpers/harness.js';

// tokend under test listens on plain http on loopback; the library refuses that unless told.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A port nothing listens on right now: the issuer must be known before the server starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The error a `process*Response` call rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the library to reject the response');
}

describe('oauth4webapi against a listening tokend', () => {
  let h: Harness;
  let issuer: URL;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let secret: string;
  const user = { username: 'olive', password: 'interop password 1234' };

  before(async () => {
    const port = await freePort();
    issuer = new URL(`http://127.0.0.1:${port}`);
    // Real time: jose and oauth4webapi check exp/iat against Date.now().
    h = await startHarness({ settings: { issuer: issuer.origin }, startAt: Date.now() });
    await h.app.listen({ host: '127.0.0.1', port });
    client = { client_id: h.clientId };
    secret = h.clientSecret;
    await createUser(h, user.username, user.password);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  });

  after(async () => {
    await h.close();
  });

  test('discovery yields metadata whose issuer and endpoints are the listening server', () => {
    assert.equal(as.issuer, issuer.href.replace(/\/$/, ''));
    assert.equal(as.token_endpoint, `${issuer.origin}/oauth/token`);
    assert.equal(as.revocation_endpoint, `${issuer.origin}/oauth/revoke`);
    assert.equal(as.introspection_endpoint, `${issuer.origin}/oauth/introspect`);
    assert.equal(as.jwks_uri, `${issuer.origin}/.well-known/jwks.json`);
    assert.deepEqual(as.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
    assert.ok(as.grant_types_supported?.includes('client_credentials'));
  });

  test('client_credentials with client_secret_basic returns an app access token and no refresh token', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(secret), {}, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(parseSecret(tokens.access_token), 'access');
    assert.equal(tokens.refresh_token, undefined);
    assert.ok(typeof tokens.expires_in === 'number' && tokens.expires_in > 0);
  });

  test('client_credentials with client_secret_post returns an app access token', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost(secret), {}, insecure);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(parseSecret(tokens.access_token), 'access');
  });

  test('password grant, refresh rotation, introspection and revocation work end to end', async () => {
    const auth = oauth.ClientSecretBasic(secret);
    const login = await oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(as, client, auth, 'password', { username: user.username, password: user.password }, insecure),
    );
    assert.equal(parseSecret(login.access_token), 'access');
    assert.equal(parseSecret(login.refresh_token ?? ''), 'refresh');

    const rotated = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, login.refresh_token!, insecure));
    assert.notEqual(rotated.access_token, login.access_token);
    assert.notEqual(rotated.refresh_token, login.refresh_token);
    assert.equal(parseSecret(rotated.refresh_token ?? ''), 'refresh');

    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, insecure));
    const active = await introspect(rotated.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, h.clientId);
    assert.equal(active.username, user.username);
    assert.equal(active.iss, issuer.origin);
    assert.equal(active.token_type, 'Bearer');
    assert.ok(typeof active.exp === 'number' && active.exp * 1000 > Date.now());

    // Revoking the refresh token ends the session, so its access token dies with it (SPEC §4).
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, rotated.refresh_token!, insecure));
    assert.deepEqual(await introspect(rotated.access_token), { active: false });
    assert.deepEqual(await introspect(rotated.refresh_token!), { active: false });
  });

  test('a replayed refresh token is refused with invalid_grant as a ResponseBodyError', async () => {
    const auth = oauth.ClientSecretPost(secret);
    const login = await oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await oauth.genericTokenEndpointRequest(as, client, auth, 'password', { username: user.username, password: user.password }, insecure),
    );
    await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, login.refresh_token!, insecure));
    const error = await rejection(oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, login.refresh_token!, insecure)));
    assert.ok(error instanceof oauth.ResponseBodyError);
    assert.equal(error.error, 'invalid_grant');
    assert.equal(error.status, 400);
  });

  test('revoking an unknown token is still a success for the library', async () => {
    const response = await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(secret), 'tka_not-a-token', insecure);
    assert.equal(await oauth.processRevocationResponse(response), undefined);
  });

  test('a wrong client secret sent in the body is a ResponseBodyError with invalid_client', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost(`${secret}x`), {}, insecure);
    const error = await rejection(oauth.processClientCredentialsResponse(as, client, response));
    assert.ok(error instanceof oauth.ResponseBodyError);
    assert.equal(error.error, 'invalid_client');
    assert.equal(error.status, 401);
  });

  test('a wrong client secret sent by Basic is a Basic challenge the library surfaces', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(`${secret}x`), {}, insecure);
    const error = await rejection(oauth.processClientCredentialsResponse(as, client, response));
    // RFC 6749 §5.2 asks for WWW-Authenticate on a Basic failure; oauth4webapi reports challenges before bodies.
    assert.ok(error instanceof oauth.WWWAuthenticateChallengeError);
    assert.equal(error.status, 401);
    assert.equal(error.cause[0]?.scheme, 'basic');
    assert.equal(error.cause[0]?.parameters.realm, 'tokend');
    assert.equal(((await error.response.json()) as { error: string }).error, 'invalid_client');
  });

  test('introspection by another app sees a foreign token as inactive', async () => {
    const created = await adminRequest(h, 'POST', '/apps', { name: 'other app' });
    assert.equal(created.statusCode, 201);
    const other = json<{ client_id: string; client_secret: string }>(created);
    const mine = await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(secret), {}, insecure));
    const otherClient = { client_id: other.client_id };
    const seen = await oauth.processIntrospectionResponse(
      as,
      otherClient,
      await oauth.introspectionRequest(as, otherClient, oauth.ClientSecretBasic(other.client_secret), mine.access_token, insecure),
    );
    assert.deepEqual(seen, { active: false });
  });

  describe('an app with JWT access tokens', () => {
    let jwtClient: oauth.Client;
    let jwtAuth: oauth.ClientAuth;

    before(async () => {
      const created = await adminRequest(h, 'POST', '/apps', { name: 'jwt app', access_token_format: 'jwt' });
      assert.equal(created.statusCode, 201);
      const body = json<{ client_id: string; client_secret: string }>(created);
      jwtClient = { client_id: body.client_id };
      jwtAuth = oauth.ClientSecretBasic(body.client_secret);
    });

    test('its access token verifies against the JWKS fetched from the server (RFC 9068)', async () => {
      const tokens = await oauth.processGenericTokenEndpointResponse(
        as,
        jwtClient,
        await oauth.genericTokenEndpointRequest(as, jwtClient, jwtAuth, 'password', { username: user.username, password: user.password }, insecure),
      );
      const header = decodeProtectedHeader(tokens.access_token);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(header.alg, 'ES256');
      assert.equal(typeof header.kid, 'string');

      const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
      const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: issuer.origin, audience: issuer.origin, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(payload.client_id, jwtClient.client_id);
      assert.equal(typeof payload.sid, 'string');
      assert.match(String(payload.sub), /^\d+$/);
      assert.ok(payload.exp! > payload.iat!);
    });

    test('oauth4webapi as a resource server accepts the client_credentials JWT with sub = client_id', async () => {
      const tokens = await oauth.processClientCredentialsResponse(as, jwtClient, await oauth.clientCredentialsGrantRequest(as, jwtClient, jwtAuth, {}, insecure));
      const request = new Request('https://api.example/resource', { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const claims = await oauth.validateJwtAccessToken(as, request, issuer.origin, insecure);
      assert.equal(claims.client_id, jwtClient.client_id);
      assert.equal(claims.sub, jwtClient.client_id);
      assert.equal(claims.iss, issuer.origin);
    });

    test('a revoked JWT introspects as inactive though its signature stays valid', async () => {
      const tokens = await oauth.processClientCredentialsResponse(as, jwtClient, await oauth.clientCredentialsGrantRequest(as, jwtClient, jwtAuth, {}, insecure));
      const introspect = async () =>
        oauth.processIntrospectionResponse(as, jwtClient, await oauth.introspectionRequest(as, jwtClient, jwtAuth, tokens.access_token, insecure));
      const active = await introspect();
      assert.equal(active.active, true);
      assert.equal(active.jti, (await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(as.jwks_uri!)))).payload.jti);
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, jwtClient, jwtAuth, tokens.access_token, insecure));
      assert.deepEqual(await introspect(), { active: false });
    });
  });
});
