import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, adminRequest, basic, createUser, json, login, me, postForm, startHarness, type Harness } from '../helpers/harness.js';

/*
 * All five doors share one store (SPEC §5): a token issued through one door and
 * revoked through another is dead everywhere, every door's sessions are one
 * device list, and every door fails a login the same way whatever the cause.
 */

type User = { id: number; username: string; password: string };

describe('one store behind every door', () => {
  let h: Harness;
  let alice: User;
  let bob: User;

  const send = (method: 'POST' | 'GET' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    h.app.inject({
      method,
      url,
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const deviceLogin = (user: User, deviceInfo: string) =>
    send('POST', `/v1/oauth/?${new URLSearchParams({ username: user.username, password: user.password, 'device-info': deviceInfo })}`);
  const jsonApiLogin = (user: User, extra: Record<string, string> = {}) =>
    send('POST', '/api/auth/v1/access_tokens', { data: { type: 'AuthenticationTokens', attributes: { username: user.username, password: user.password, ...extra } } });
  const introspect = (token: string) => postForm(h, '/oauth/introspect', { token }, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const revoke = (token: string) => postForm(h, '/oauth/revoke', { token }, { authorization: basic(h.clientId, h.clientSecret) });
  const active = async (token: string) => json(await introspect(token)).active as boolean;

  before(async () => {
    h = await startHarness({ settings: { loginLimits: { perUser: 1000, perIp: 1000, windowSeconds: 60 } } });
    alice = await createUser(h, 'alice');
    bob = await createUser(h, 'bob');
  });
  after(() => h.close());

  test('a /v1/oauth/ token revoked through RFC 7009 is dead on every door', async () => {
    const { data } = json(await deviceLogin(alice, 'phone'));
    assert.equal((await me(h, data.access_token, 'Token')).statusCode, 200);
    assert.equal((await revoke(data.access_token)).statusCode, 200);
    assert.equal((await me(h, data.access_token)).statusCode, 401);
    assert.equal((await me(h, data.access_token, 'Token')).statusCode, 401);
    assert.equal(await active(data.access_token), false);
  });

  test('a JSON:API session deauthorized through /v1/sessions loses its JWT and its refresh token', async () => {
    const [resource] = json(await jsonApiLogin(alice, { device_info: 'tv' })).data;
    const { access_token, refresh_token } = resource.attributes;
    const other = await login(h, alice);
    assert.equal((await send('DELETE', `/v1/sessions/${resource.id}`, undefined, { authorization: `Bearer ${other.access_token}` })).statusCode, 204);
    assert.equal((await me(h, access_token)).statusCode, 401);
    assert.equal(await active(access_token), false);
    const refreshed = await send('POST', '/api/auth/v1/access_tokens', { grant_type: 'refresh_token', refresh_token });
    assert.equal(refreshed.statusCode, 401);
    assert.equal((await me(h, other.access_token)).statusCode, 200, 'the session that did it lives on');
  });

  test('an /oauth/token session logged out through the JSON:API door cannot refresh at /oauth/token', async () => {
    const pair = await login(h, alice);
    const session = json(await me(h, pair.access_token)).token.session_id;
    const deleted = await send('DELETE', `/api/auth/v1/access_tokens/${session}`, undefined, { authorization: `Token ${pair.access_token}` });
    assert.equal(deleted.statusCode, 204);
    const refreshed = await postForm(h, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: h.clientId, client_secret: h.clientSecret });
    assert.equal(json(refreshed).error, 'invalid_grant');
  });

  test('a master-key service token revoked by the app through RFC 7009 is refused by introspection; revoke_token leaves user tokens alone', async () => {
    const key = json(await adminRequest(h, 'POST', `/apps/${h.defaultApp.id}/master-keys`, {})).key;
    const service = json(await send('POST', '/api/auth/v1.0/get_token/', undefined, { authorization: `Token ${key}` })).token;
    assert.equal(await active(service), true);
    await revoke(service);
    assert.equal(await active(service), false);
    const user = await login(h, bob);
    const answer = await send('POST', '/api/auth/v1.0/revoke_token/', { token: user.access_token }, { authorization: `Token ${key}` });
    assert.deepEqual(json(answer), { revoked: true });
    assert.equal((await me(h, user.access_token)).statusCode, 200, 'a master key revokes service tokens only');
  });

  test('an API token revoked by the operator takes the install tokens it minted with it', async () => {
    const pair = await login(h, bob);
    const api = json(await send('POST', '/v1/api-tokens', { name: 'script' }, { authorization: `Bearer ${pair.access_token}` }));
    const install = json(await send('GET', `/v3/users/token?app_key=${h.clientId}&installid=device-7`, undefined, { authorization: `Token ${api.token}` }));
    assert.equal((await h.app.inject({ method: 'GET', url: `/v1/me?installid=device-7&token=${install.token}` })).statusCode, 200);
    assert.equal((await adminRequest(h, 'DELETE', `/tokens/${api.id}`)).statusCode, 204);
    assert.equal((await me(h, api.token, 'Token')).statusCode, 401);
    assert.equal((await h.app.inject({ method: 'GET', url: `/v1/me?installid=device-7&token=${install.token}` })).statusCode, 401);
    assert.equal(await active(install.token), false);
  });

  test('sessions from every door are one device list, named by their device info', async () => {
    const carol = await createUser(h, 'carol');
    const oauth = await login(h, carol, { device_info: 'Pixel 9 (oauth)' });
    await deviceLogin(carol, 'iPad (v1/oauth)');
    await jsonApiLogin(carol, { device_info: 'Living-room TV (jsonapi)' });
    await jsonApiLogin(carol);
    const listed = json(await send('GET', '/v1/sessions', undefined, { authorization: `Bearer ${oauth.access_token}` })).sessions;
    assert.deepEqual(listed.map((s: { device_info: string }) => s.device_info).sort(), ['Living-room TV (jsonapi)', 'Pixel 9 (oauth)', 'Unknown', 'iPad (v1/oauth)']);
    assert.equal(listed.filter((s: { current: boolean }) => s.current).length, 1);
    const operatorView = json(await adminRequest(h, 'GET', `/users/${carol.id}/sessions`)).sessions;
    assert.equal(operatorView.length, 4);
  });

  test('a disabled user is refused at every door with the same answer as a wrong password', async () => {
    const dave = await createUser(h, 'dave');
    const before = {
      oauth: await postForm(h, '/oauth/token', { grant_type: 'password', username: 'dave', password: 'nope', client_id: h.clientId, client_secret: h.clientSecret }),
      jsonapi: await jsonApiLogin({ ...dave, password: 'nope' }),
      device: await deviceLogin({ ...dave, password: 'nope' }, 'x'),
    };
    await adminRequest(h, 'PATCH', `/users/${dave.id}`, { disabled: true });
    const after = {
      oauth: await postForm(h, '/oauth/token', { grant_type: 'password', username: 'dave', password: dave.password, client_id: h.clientId, client_secret: h.clientSecret }),
      jsonapi: await jsonApiLogin(dave),
      device: await deviceLogin(dave, 'x'),
    };
    for (const door of ['oauth', 'jsonapi', 'device'] as const) {
      assert.equal(after[door].statusCode, before[door].statusCode, door);
      assert.equal(after[door].body, before[door].body, door);
    }
  });

  test('unknown user and wrong password answer the same bytes at every door, debug=1 included in production', async () => {
    const pairs: Array<[string, () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>, () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>]> = [
      ['oauth form', () => postForm(h, '/oauth/token', { grant_type: 'password', username: 'alice', password: 'x', client_id: h.clientId, client_secret: h.clientSecret }), () => postForm(h, '/oauth/token', { grant_type: 'password', username: 'zed', password: 'x', client_id: h.clientId, client_secret: h.clientSecret })],
      ['oauth json (seed 003)', () => send('POST', '/oauth/token', { grant_type: 'password', username: 'alice', password: 'x', client_id: h.clientId, client_secret: h.clientSecret }), () => send('POST', '/oauth/token', { grant_type: 'password', username: 'zed', password: 'x', client_id: h.clientId, client_secret: h.clientSecret })],
      ['jsonapi', () => jsonApiLogin({ ...alice, password: 'x' }), () => jsonApiLogin({ id: 0, username: 'zed', password: 'x' })],
      ['v1/oauth', () => deviceLogin({ ...alice, password: 'x' }, 'd'), () => deviceLogin({ id: 0, username: 'zed', password: 'x' }, 'd')],
      ['v1/oauth debug=1', () => send('POST', '/v1/oauth/?debug=1', { username: 'alice', password: 'x' }), () => send('POST', '/v1/oauth/?debug=1', { username: 'zed', password: 'x' })],
    ];
    const plain = await send('POST', '/v1/oauth/', { username: 'zed', password: 'x' });
    for (const [door, wrongPassword, unknownUser] of pairs) {
      const [a, b] = [await wrongPassword(), await unknownUser()];
      assert.ok(a.statusCode >= 400 && a.statusCode < 500, door);
      assert.equal(a.statusCode, b.statusCode, door);
      assert.equal(a.body, b.body, door);
      assert.equal(a.headers['content-type'], b.headers['content-type'], door);
      if (door.startsWith('v1/oauth')) assert.equal(a.body, plain.body, `${door}: debug changes nothing in production`);
    }
  });

  test('a JSON key given twice is refused at every door that takes JSON', async () => {
    const key = json(await adminRequest(h, 'POST', `/apps/${h.defaultApp.id}/master-keys`, {})).key;
    const cases: Array<[string, string, Record<string, string>]> = [
      ['/oauth/token', `{"grant_type":"password","grant_type":"client_credentials","client_id":"${h.clientId}","client_secret":"${h.clientSecret}"}`, {}],
      ['/api/auth/v1/access_tokens', '{"username":"alice","username":"bob","password":"x"}', {}],
      ['/v1/oauth/', '{"username":"alice","username":"bob","password":"x"}', {}],
      ['/api/auth/v1.0/revoke_token/', '{"token":"a","token":"b"}', { authorization: `Token ${key}` }],
      ['/admin/v1/users', '{"username":"eve","username":"mallory","password":"x"}', { authorization: `Bearer ${ADMIN_TOKEN}` }],
    ];
    for (const [url, body, headers] of cases) {
      const response = await send('POST', url, body, headers);
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
    }
  });
});
