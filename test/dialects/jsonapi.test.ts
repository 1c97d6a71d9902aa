import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { ISSUER, adminRequest, basic, createClient, createUser, json, me, postForm, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §5.2, seed 001: JSON:API password login, refresh and logout, driven as a client of that document would. */

const PATH = '/api/auth/v1/access_tokens';
const JSON_API = 'application/vnd.api+json';

type User = { id: number; username: string; password: string };
interface Issued {
  id: string;
  attributes: { login_timestamp: number; user_id: number; user_profile_id: string; access_token: string; expires_at_timestamp: number; refresh_token: string };
}

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const post = (body: unknown, { contentType = 'application/json', url = PATH } = {}) =>
  h.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

const resource = (attributes: Record<string, unknown>) => ({ data: { type: 'AuthenticationTokens', attributes } });

function issued(response: LightMyRequestResponse): Issued {
  assert.equal(response.statusCode, 201, response.body);
  assert.match(String(response.headers['content-type']), /^application\/vnd\.api\+json/);
  assert.equal(response.headers['cache-control'], 'no-store');
  const document = json(response);
  assert.equal(document.data.length, 1);
  assert.equal(document.data[0].type, 'AuthenticationTokens');
  return document.data[0];
}

const logIn = async (user: User, extra: Record<string, unknown> = {}): Promise<Issued> =>
  issued(await post({ username: user.username, password: user.password, ...extra }));

function assertError(response: LightMyRequestResponse, status: number, code?: string): { status: string; code: string; title: string; detail: string } {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/vnd\.api\+json/);
  const { errors } = json(response);
  assert.equal(errors.length, 1);
  const [error] = errors;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'detail', 'status', 'title']);
  assert.equal(error.status, String(status));
  assert.equal(typeof error.title, 'string');
  assert.equal(typeof error.detail, 'string');
  if (code !== undefined) assert.equal(error.code, code);
  return error;
}

async function verifyJwt(token: string, audience = ISSUER) {
  const jwks = json((await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })));
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience, typ: 'at+jwt', currentDate: new Date(h.clock.now()) });
}

const remove = (id: string, token: string, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'DELETE', url: `${PATH}/${id}`, headers: { authorization: `Bearer ${token}`, ...headers } });

describe('POST /api/auth/v1/access_tokens: login', () => {
  test('a flat JSON login answers 201 with an AuthenticationTokens document', async () => {
    const user = await createUser(h, 'flat-user', 'flat password');
    const profile = json(await adminRequest(h, 'GET', `/users/${user.id}`));
    const { id, attributes } = await logIn(user);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(attributes).sort(), ['access_token', 'expires_at_timestamp', 'login_timestamp', 'refresh_token', 'user_id', 'user_profile_id']);
    assert.equal(attributes.user_id, user.id);
    assert.equal(attributes.user_profile_id, profile.user_profile_id);
    assert.equal(attributes.login_timestamp, Math.floor(h.clock.now() / 1000));
    assert.equal(attributes.expires_at_timestamp, attributes.login_timestamp + 7200);
    assert.match(attributes.refresh_token, /^tkr_/);
  });

  test('the JSON:API resource form as application/vnd.api+json logs in, with or without the trailing slash', async () => {
    const user = await createUser(h, 'resource-user', 'resource password');
    for (const url of [PATH, `${PATH}/`]) {
      const { attributes } = issued(await post(resource({ username: user.username, password: user.password }), { contentType: JSON_API, url }));
      assert.equal(attributes.user_id, user.id);
    }
    const charset = await post(resource({ username: user.username, password: user.password }), { contentType: 'application/json; charset=utf-8' });
    assert.equal(issued(charset).attributes.user_id, user.id);
  });

  test('the access token is an RFC 9068 JWT that verifies against the JWKS even when the app issues opaque tokens', async () => {
    const user = await createUser(h, 'jwt-user', 'jwt password');
    assert.equal(json(await adminRequest(h, 'GET', `/apps/${h.defaultApp.id}`)).access_token_format, 'opaque');
    const { id, attributes } = await logIn(user);
    assert.equal(decodeProtectedHeader(attributes.access_token).typ, 'at+jwt');
    const { payload } = await verifyJwt(attributes.access_token);
    assert.equal(payload.exp, attributes.expires_at_timestamp);
    assert.equal(payload.sub, String(attributes.user_id));
    assert.equal(payload.sid, id);
    assert.equal(payload.client_id, h.clientId);
  });

  test('the issued token works on /v1/me and introspection, and its session shows in /v1/sessions', async () => {
    const user = await createUser(h, 'me-user', 'me password');
    const { id, attributes } = await logIn(user, { device_info: 'Set-top box' });
    const who = await me(h, attributes.access_token);
    assert.equal(who.statusCode, 200, who.body);
    assert.equal(json(who).user_id, user.id);
    const introspection = json(await postForm(h, '/oauth/introspect', { token: attributes.access_token }, { authorization: basic(h.clientId, h.clientSecret) }));
    assert.equal(introspection.active, true);
    assert.equal(introspection.session_id, id);
    const sessions = json(await h.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${attributes.access_token}` } }));
    assert.deepEqual(sessions.sessions.map((s: { id: string; device_info: string; current: boolean }) => [s.id, s.device_info, s.current]), [[id, 'Set-top box', true]]);
  });

  test('grant_type "password" is a login; any other grant_type is 400', async () => {
    const user = await createUser(h, 'grant-user', 'grant password');
    await logIn(user, { grant_type: 'password' });
    for (const grantType of ['client_credentials', 'authorization_code', '']) {
      assertError(await post({ grant_type: grantType, username: user.username, password: user.password }), 400, 'unsupported_grant_type');
    }
  });

  test('client_id in the body, the attributes or the query selects that app; an unknown one is 401', async () => {
    const user = await createUser(h, 'partner-user', 'partner password');
    const partner = await createClient(h, { audience: 'https://api.partner.test' });
    const forms = [
      post({ username: user.username, password: user.password, client_id: partner.clientId }),
      post(resource({ username: user.username, password: user.password, client_id: partner.clientId }), { contentType: JSON_API }),
      post({ username: user.username, password: user.password }, { url: `${PATH}?client_id=${partner.clientId}` }),
    ];
    for (const response of await Promise.all(forms)) {
      const { payload } = await verifyJwt(issued(response).attributes.access_token, 'https://api.partner.test');
      assert.equal(payload.client_id, partner.clientId);
    }
    assertError(await post({ username: user.username, password: user.password, client_id: 'app_nosuchapp' }), 401, 'invalid_client');
  });
});

describe('POST /api/auth/v1/access_tokens: refresh', () => {
  test('a refresh answers the same document with a rotated pair, in either form', async () => {
    const user = await createUser(h, 'refresh-user', 'refresh password');
    const first = await logIn(user);
    h.clock.advance(60_000);
    const second = issued(await post({ grant_type: 'refresh_token', refresh_token: first.attributes.refresh_token }));
    h.clock.advance(60_000);
    const third = issued(await post(resource({ grant_type: 'refresh_token', refresh_token: second.attributes.refresh_token }), { contentType: JSON_API }));
    for (const next of [second, third]) {
      assert.equal(next.id, first.id, 'the session stays the same');
      assert.equal(next.attributes.login_timestamp, first.attributes.login_timestamp);
      assert.equal(next.attributes.user_id, user.id);
      assert.equal(next.attributes.user_profile_id, first.attributes.user_profile_id);
    }
    assert.equal(third.attributes.expires_at_timestamp, Math.floor(h.clock.now() / 1000) + 7200);
    assert.notEqual(third.attributes.refresh_token, second.attributes.refresh_token);
    assert.notEqual(third.attributes.access_token, second.attributes.access_token);
    assert.equal((await verifyJwt(third.attributes.access_token)).payload.exp, third.attributes.expires_at_timestamp);
    assert.equal((await me(h, third.attributes.access_token)).statusCode, 200);
  });

  test('reusing a rotated refresh token is 401 and revokes the session', async () => {
    const user = await createUser(h, 'reuse-user', 'reuse password');
    const first = await logIn(user);
    const second = issued(await post({ grant_type: 'refresh_token', refresh_token: first.attributes.refresh_token }));
    assertError(await post({ grant_type: 'refresh_token', refresh_token: first.attributes.refresh_token }), 401, 'invalid_grant');
    assert.equal((await me(h, second.attributes.access_token)).statusCode, 401, 'the session died with the reuse');
    assertError(await post({ grant_type: 'refresh_token', refresh_token: second.attributes.refresh_token }), 401, 'invalid_grant');
  });

  test('a refresh token is refused for another app, garbage or missing', async () => {
    const user = await createUser(h, 'cross-user', 'cross password');
    const partner = await createClient(h, { name: 'other' });
    const { attributes } = await logIn(user, { client_id: partner.clientId });
    assertError(await post({ grant_type: 'refresh_token', refresh_token: attributes.refresh_token }), 401, 'invalid_grant');
    assertError(await post({ grant_type: 'refresh_token', refresh_token: 'tkr_garbage' }), 401, 'invalid_grant');
    assertError(await post({ grant_type: 'refresh_token' }), 400, 'invalid_request');
    issued(await post({ grant_type: 'refresh_token', refresh_token: attributes.refresh_token, client_id: partner.clientId }));
  });
});

describe('POST /api/auth/v1/access_tokens: failures', () => {
  test('a wrong password and an unknown user get byte-identical 401 answers', async () => {
    const user = await createUser(h, 'victim', 'victim password');
    const wrong = await post({ username: user.username, password: 'not it' });
    const unknown = await post({ username: 'nobody-at-all', password: 'not it' });
    const error = assertError(wrong, 401, 'invalid_grant');
    assert.doesNotMatch(error.detail, /unknown|exist|wrong password/i);
    assert.equal(unknown.statusCode, wrong.statusCode);
    assert.equal(unknown.body, wrong.body);
    const { date: _a, ...wrongHeaders } = wrong.headers;
    const { date: _b, ...unknownHeaders } = unknown.headers;
    assert.deepEqual(unknownHeaders, wrongHeaders);
  });

  test('after five failures for one user the next login is 429 with Retry-After, even with the right password', async () => {
    const user = await createUser(h, 'limited', 'limited password');
    for (let i = 0; i < 5; i++) assertError(await post({ username: user.username, password: `guess ${i}` }), 401);
    const limited = await post({ username: user.username, password: user.password });
    assertError(limited, 429, 'slow_down');
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  test('malformed JSON, wrong types and missing fields are 400 JSON:API errors', async () => {
    const cases: unknown[] = [
      '{"username": "a", ',
      '',
      '[]',
      '"just a string"',
      'null',
      { username: 'a', password: 5 },
      { username: ['a'], password: 'p' },
      resource({ username: 'a', password: { p: 1 } }),
      { data: { type: 'AuthenticationTokens' } },
      { data: 'x' },
      { password: 'p' },
      { username: '', password: 'p' },
      { username: 'a' },
      resource({ username: 'a' }),
      { username: 'a', password: 'p', data: { attributes: { username: 'a' } } },
      '{"username": "a", "username": "b", "password": "p"}',
    ];
    for (const body of cases) assertError(await post(body), 400);
    assertError(await post({ username: 'a', password: 'p' }, { url: `${PATH}?client_id=x&client_id=y` }), 400);
  });

  test('a resource of another type is 409, as JSON:API requires', async () => {
    assertError(await post({ data: { type: 'Users', attributes: { username: 'a', password: 'p' } } }, { contentType: JSON_API }), 409, 'conflict');
  });

  test('a content type other than JSON or JSON:API is 415, and a body over 64 KiB is 413', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      assertError(await post('username=a&password=p', { contentType }), 415);
    }
    assertError(await post({ username: 'a', password: 'p', padding: 'x'.repeat(70_000) }), 413);
  });
});

describe('DELETE /api/auth/v1/access_tokens/{id}', () => {
  test('deleting your own session answers 204 and kills its tokens', async () => {
    const user = await createUser(h, 'leaver', 'leaver password');
    const { id, attributes } = await logIn(user);
    const response = await remove(id, attributes.access_token, { 'content-type': JSON_API });
    assert.equal(response.statusCode, 204, response.body);
    assert.equal(response.body, '');
    assert.equal((await me(h, attributes.access_token)).statusCode, 401);
    assertError(await post({ grant_type: 'refresh_token', refresh_token: attributes.refresh_token }), 401, 'invalid_grant');
  });

  test('with a token of another session of the same user, the Token scheme works too', async () => {
    const user = await createUser(h, 'two-devices', 'two devices password');
    const phone = await logIn(user);
    const tv = await logIn(user);
    const response = await h.app.inject({ method: 'DELETE', url: `${PATH}/${phone.id}/`, headers: { authorization: `Token ${tv.attributes.access_token}` } });
    assert.equal(response.statusCode, 204, response.body);
    assert.equal((await me(h, phone.attributes.access_token)).statusCode, 401);
    assert.equal((await me(h, tv.attributes.access_token)).statusCode, 200);
  });

  test("another user's session or an unknown id is 404; no token is 401", async () => {
    const alice = await createUser(h, 'del-alice', 'alice password');
    const bob = await createUser(h, 'del-bob', 'bob password');
    const mine = await logIn(alice);
    const theirs = await logIn(bob);
    assertError(await remove(theirs.id, mine.attributes.access_token), 404, 'not_found');
    assertError(await remove('9bc6871e-ce26-4b8a-96f6-e6688599d938', mine.attributes.access_token), 404, 'not_found');
    assert.equal((await me(h, theirs.attributes.access_token)).statusCode, 200, "bob's session is untouched");
    const anonymous = await h.app.inject({ method: 'DELETE', url: `${PATH}/${mine.id}` });
    assertError(anonymous, 401, 'invalid_token');
    assert.match(String(anonymous.headers['www-authenticate']), /^Bearer /);
  });
});

describe('documentation and hygiene', () => {
  test('/openapi.json documents both routes', async () => {
    const { paths } = json(await h.app.inject({ method: 'GET', url: '/openapi.json' }));
    assert.ok(paths[PATH].post.responses['201'].content[JSON_API]);
    assert.ok(paths[`${PATH}/{id}`].delete);
  });

  test('no password or token reaches the logs', async () => {
    const user = await createUser(h, 'quiet-user', 'a very secret password 42');
    const { id, attributes } = await logIn(user);
    const renewed = issued(await post(resource({ grant_type: 'refresh_token', refresh_token: attributes.refresh_token }), { contentType: JSON_API }));
    await post({ username: user.username, password: 'another secret guess 43' });
    await remove(id, renewed.attributes.access_token);
    const logs = h.logs.join('\n');
    assert.ok(logs.includes(PATH), 'the requests were logged');
    for (const secret of [user.password, 'another secret guess 43', attributes.access_token, attributes.refresh_token, renewed.attributes.access_token, renewed.attributes.refresh_token]) {
      assert.ok(!logs.includes(secret), `${secret.slice(0, 12)}… is not in the logs`);
    }
  });
});
