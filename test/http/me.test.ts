import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest, createUser, json, login, me, refresh, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §6: self-service for any user token. */

let h: Harness;
let alice: { id: number; username: string; password: string };
let bob: { id: number; username: string; password: string };

before(async () => {
  h = await startHarness();
  alice = await createUser(h, 'alice', 'alice password 1');
  bob = await createUser(h, 'bob', 'bob password 1');
});
after(() => h.close());

const withToken = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, scheme = 'Bearer') =>
  h.app.inject({
    method,
    url,
    headers: { authorization: `${scheme} ${token}`, ...(payload !== undefined && { 'content-type': 'application/json' }) },
    ...(payload !== undefined && { payload: JSON.stringify(payload) }),
  });

function assertInvalidToken(response: Awaited<ReturnType<typeof me>>): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.match(String(response.headers['www-authenticate']), /^Bearer realm="tokend", error="invalid_token"/);
  assert.equal(json(response).error, 'invalid_token');
}

/** Flips the last checksum character so the token is well-formed but fails its CRC. */
const badChecksum = (token: string): string => token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');

describe('GET /v1/me', () => {
  test('answers the user, app and token behind a Bearer access token', async () => {
    const { access_token } = await login(h, alice, { device_info: 'Pixel 8' });
    const response = await me(h, access_token);
    assert.equal(response.statusCode, 200, response.body);
    const body = json(response);
    assert.equal(body.user_id, alice.id);
    assert.equal(body.username, 'alice');
    assert.match(body.user_profile_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(body.app, { client_id: h.clientId, name: 'default' });
    assert.deepEqual(Object.keys(body.token).sort(), ['expires_at', 'id', 'install_id', 'kind', 'scopes', 'session_id']);
    assert.equal(body.token.kind, 'access');
    assert.deepEqual(body.token.scopes, []);
    assert.equal(body.token.install_id, null);
    assert.equal(typeof body.token.session_id, 'string');
    assert.equal(Date.parse(body.token.expires_at), h.clock.now() + 7200 * 1000);
  });

  test('accepts the Token scheme like Bearer', async () => {
    const { access_token } = await login(h, alice);
    const response = await me(h, access_token, 'Token');
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(json(response).user_id, alice.id);
  });

  test('refuses a missing, garbage or bad-checksum token with an RFC 6750 challenge', async () => {
    const { access_token } = await login(h, alice);
    assertInvalidToken(await h.app.inject({ method: 'GET', url: '/v1/me' }));
    assertInvalidToken(await me(h, 'garbage'));
    assertInvalidToken(await me(h, 'tka_not-a-real-token'));
    assertInvalidToken(await me(h, badChecksum(access_token)));
    assertInvalidToken(await h.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: 'Basic abc' } }));
  });

  test('refuses a refresh token presented as a bearer', async () => {
    const { refresh_token } = await login(h, alice);
    assertInvalidToken(await me(h, refresh_token));
  });

  test('refuses a token in the URL of /v1/sessions and answers private, no-store', async () => {
    const { access_token } = await login(h, alice);
    for (const name of ['access_token', 'token']) {
      const response = await h.app.inject({ method: 'GET', url: `/v1/sessions?${name}=${access_token}` });
      assertInvalidToken(response);
      assert.equal(response.headers['cache-control'], 'private, no-store');
    }
  });
});

describe('sessions', () => {
  test('GET /v1/sessions lists the caller\'s sessions with device info and marks the current one', async () => {
    const user = await createUser(h, 'carol', 'carol password 1');
    const phone = await login(h, user, { device_info: 'iPhone 15' });
    await login(h, user, { device_info: 'Firefox on Linux' });
    await login(h, alice, { device_info: 'not carol' });
    const response = await withToken(phone.access_token, 'GET', '/v1/sessions');
    assert.equal(response.statusCode, 200, response.body);
    const { sessions } = json(response);
    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions.map((s: { device_info: string }) => s.device_info).sort(), ['Firefox on Linux', 'iPhone 15']);
    const current = sessions.filter((s: { current: boolean }) => s.current);
    assert.equal(current.length, 1);
    assert.equal(current[0].device_info, 'iPhone 15');
    for (const s of sessions) {
      assert.equal(s.app_id, h.defaultApp.id);
      assert.equal(s.ip, '127.0.0.1');
      assert.ok(Date.parse(s.created_at) > 0 && Date.parse(s.last_used_at) > 0);
    }
  });

  test('a login without device_info gets "Unknown"; one over 200 characters is 400 invalid_request', async () => {
    const user = await createUser(h, 'dave', 'dave password 1');
    const { access_token } = await login(h, user);
    const { sessions } = json(await withToken(access_token, 'GET', '/v1/sessions'));
    assert.equal(sessions[0].device_info, 'Unknown');
    const response = await h.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'dave', password: user.password, client_id: h.clientId, client_secret: h.clientSecret, device_info: 'x'.repeat(201) }).toString(),
    });
    assert.equal(response.statusCode, 400, response.body);
    assert.equal(json(response).error, 'invalid_request');
    assert.equal(json(await withToken(access_token, 'GET', '/v1/sessions')).sessions.length, 1);
  });

  test('DELETE /v1/sessions/{id} deauthorizes the other device and kills its tokens', async () => {
    const user = await createUser(h, 'erin', 'erin password 1');
    const laptop = await login(h, user, { device_info: 'laptop' });
    const phone = await login(h, user, { device_info: 'phone' });
    const phoneSession = json(await me(h, phone.access_token)).token.session_id;
    const response = await withToken(laptop.access_token, 'DELETE', `/v1/sessions/${phoneSession}`);
    assert.equal(response.statusCode, 204, response.body);
    assertInvalidToken(await me(h, phone.access_token));
    assert.equal((await refresh(h, phone.refresh_token)).statusCode, 400);
    assert.equal((await me(h, laptop.access_token)).statusCode, 200);
    const { sessions } = json(await withToken(laptop.access_token, 'GET', '/v1/sessions'));
    assert.deepEqual(sessions.map((s: { device_info: string }) => s.device_info), ['laptop']);
  });

  test('another user\'s session id is 404 and that session lives on', async () => {
    const bobs = await login(h, bob);
    const bobSession = json(await me(h, bobs.access_token)).token.session_id;
    const { access_token } = await login(h, alice);
    const response = await withToken(access_token, 'DELETE', `/v1/sessions/${bobSession}`);
    assert.equal(response.statusCode, 404, response.body);
    assert.equal(json(response).error, 'not_found');
    assert.equal((await me(h, bobs.access_token)).statusCode, 200);
    assert.equal((await withToken(access_token, 'DELETE', '/v1/sessions/no-such-session')).statusCode, 404);
  });

  test('POST /v1/logout revokes the current session: access and refresh token die', async () => {
    const other = await login(h, alice);
    const { access_token, refresh_token } = await login(h, alice);
    const response = await withToken(access_token, 'POST', '/v1/logout');
    assert.equal(response.statusCode, 204, response.body);
    assertInvalidToken(await me(h, access_token));
    const refreshed = await refresh(h, refresh_token);
    assert.equal(refreshed.statusCode, 400);
    assert.equal(json(refreshed).error, 'invalid_grant');
    assert.equal((await me(h, other.access_token)).statusCode, 200);
  });
});

describe('/v1/api-tokens', () => {
  test('POST makes a tkp_ token that works with the Token scheme; GET lists it without the secret; DELETE revokes it', async () => {
    const { access_token } = await login(h, bob);
    const created = await withToken(access_token, 'POST', '/v1/api-tokens', { name: 'ci script' });
    assert.equal(created.statusCode, 201, created.body);
    const body = json(created);
    assert.match(body.token, /^tkp_[0-9A-Za-z]{30,}$/);
    assert.equal(body.kind, 'api');
    assert.equal(body.name, 'ci script');
    assert.equal(body.user_id, bob.id);
    assert.equal(body.app_id, h.defaultApp.id);
    assert.equal(body.expires_at, null);
    assert.equal(body.session_id, null);

    const asApi = await me(h, body.token, 'Token');
    assert.equal(asApi.statusCode, 200, asApi.body);
    assert.equal(json(asApi).user_id, bob.id);
    assert.equal(json(asApi).token.kind, 'api');
    assert.equal(json(asApi).token.id, body.id);

    const listed = await withToken(access_token, 'GET', '/v1/api-tokens');
    assert.equal(listed.statusCode, 200);
    const entry = json(listed).api_tokens.find((t: { id: string }) => t.id === body.id);
    assert.ok(entry, 'the new API token is listed');
    assert.equal(entry.token, undefined);
    assert.ok(!listed.body.includes(body.token), 'the list never carries the secret');

    const deleted = await withToken(access_token, 'DELETE', `/v1/api-tokens/${body.id}`);
    assert.equal(deleted.statusCode, 204, deleted.body);
    assertInvalidToken(await me(h, body.token, 'Token'));
    assert.ok(!json(await withToken(access_token, 'GET', '/v1/api-tokens')).api_tokens.some((t: { id: string }) => t.id === body.id));
    assert.equal((await withToken(access_token, 'DELETE', `/v1/api-tokens/${body.id}`)).statusCode, 404);
  });

  test('another user\'s API token id is 404 and it keeps working', async () => {
    const bobs = await login(h, bob);
    const minted = json(await withToken(bobs.access_token, 'POST', '/v1/api-tokens', { name: 'bob only' }));
    const { access_token } = await login(h, alice);
    const response = await withToken(access_token, 'DELETE', `/v1/api-tokens/${minted.id}`);
    assert.equal(response.statusCode, 404, response.body);
    assert.equal((await me(h, minted.token, 'Token')).statusCode, 200);
    assert.ok(!json(await withToken(access_token, 'GET', '/v1/api-tokens')).api_tokens.some((t: { id: string }) => t.id === minted.id));
  });

  test('a token with scope read cannot mint an API token with scope write (403 insufficient_scope)', async () => {
    const created = await adminRequest(h, 'POST', '/apps', { name: 'scoped', scopes: ['read', 'write'] });
    assert.equal(created.statusCode, 201, created.body);
    const client = { clientId: json(created).client_id, clientSecret: json(created).client_secret };
    const { access_token, scope } = await login(h, alice, { scope: 'read' }, client);
    assert.equal(scope, 'read');

    const refused = await withToken(access_token, 'POST', '/v1/api-tokens', { name: 'escalate', scopes: ['write'] });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(json(refused).error, 'insufficient_scope');
    assert.match(String(refused.headers['www-authenticate']), /insufficient_scope/);

    const narrow = await withToken(access_token, 'POST', '/v1/api-tokens', { name: 'narrow', scopes: 'read' });
    assert.equal(narrow.statusCode, 201, narrow.body);
    assert.deepEqual(json(narrow).scopes, ['read']);
    const inherited = await withToken(access_token, 'POST', '/v1/api-tokens', { name: 'inherit' });
    assert.deepEqual(json(inherited).scopes, ['read']);
  });

  test('expires_in makes the API token expire', async () => {
    const { access_token } = await login(h, bob);
    const created = await withToken(access_token, 'POST', '/v1/api-tokens', { name: 'short', expires_in: 60 });
    assert.equal(created.statusCode, 201, created.body);
    const { token, expires_at } = json(created);
    assert.equal(Date.parse(expires_at), h.clock.now() + 60_000);
    assert.equal((await me(h, token, 'Token')).statusCode, 200);
    h.clock.advance(61_000);
    assertInvalidToken(await me(h, token, 'Token'));
  });

  test('POST /v1/logout with an API token revokes that token only', async () => {
    const session = await login(h, bob);
    const apiToken = json(await withToken(session.access_token, 'POST', '/v1/api-tokens', { name: 'logout' })).token;
    assert.equal((await withToken(apiToken, 'POST', '/v1/logout', undefined, 'Token')).statusCode, 204);
    assertInvalidToken(await me(h, apiToken, 'Token'));
    assert.equal((await me(h, session.access_token)).statusCode, 200);
  });

  test('a bad request body is 400 invalid_request', async () => {
    const { access_token } = await login(h, bob);
    for (const payload of [{}, { name: '' }, { name: 'x', expires_in: 0 }, { name: 'x', extra: true }, { name: 'x'.repeat(201) }]) {
      const response = await withToken(access_token, 'POST', '/v1/api-tokens', payload);
      assert.equal(response.statusCode, 400, `${JSON.stringify(payload).slice(0, 40)} → ${response.body}`);
      assert.equal(json(response).error, 'invalid_request');
    }
  });

  test('an operator token is not a user token', async () => {
    assertInvalidToken(await me(h, ADMIN_TOKEN));
  });
});
