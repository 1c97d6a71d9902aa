import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authenticateMasterKey, issueServiceToken } from '../../src/core/service-tokens.js';
import { adminRequest, createClient, createUser, json, login, startHarness, type Client, type Harness } from '../helpers/harness.js';

/** Seed 002 (SPEC §5.3), driven as a client written from the seed document would. */

let h: Harness;
let alice: { id: number; username: string; password: string };
let scoped: Client;
/** Every secret a test saw: none may ever reach the logs. */
const secrets: string[] = [];

before(async () => {
  h = await startHarness();
  alice = await createUser(h, 'alice', 'alice password 1');
  scoped = await createClient(h, { name: 'dashboard', scopes: ['read', 'write'] });
});
after(() => h.close());

const INSTALL = 'c12b156b-8592-4545-989b-4468a3936983';
const seen = (secret: string): string => (secrets.push(secret), secret);

function call(method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, scheme = 'Token', payload?: unknown) {
  return h.app.inject({
    method,
    url,
    headers: {
      ...(token !== undefined && { authorization: `${scheme} ${token}` }),
      ...(payload !== undefined && { 'content-type': 'application/json' }),
    },
    ...(payload !== undefined && { payload: JSON.stringify(payload) }),
  });
}

/** The dashboard's "Auth Token": an API token of alice for the default app, made by POST /v1/api-tokens. */
async function apiToken(): Promise<{ id: string; token: string }> {
  const { access_token } = await login(h, alice);
  const response = await call('POST', '/v1/api-tokens', seen(access_token), 'Bearer', { name: 'dashboard' });
  assert.equal(response.statusCode, 201, response.body);
  const body = json(response);
  return { id: body.id, token: seen(body.token) };
}

const installUrl = (query: Record<string, string>, slash = '') => `/v3/users/token${slash}?${new URLSearchParams(query).toString()}`;

async function installToken(caller: string, appKey = h.clientId, installId = INSTALL, scheme = 'Token') {
  const response = await call('GET', installUrl({ app_key: appKey, installid: installId }), caller, scheme);
  assert.equal(response.statusCode, 200, response.body);
  const body = json(response);
  seen(body.token);
  return body as { token: string; installid: string; expires_at: string; expires_in: number; deeplink: string };
}

const meWithInstall = (token: string, installId = INSTALL) => call('GET', `/v1/me?installid=${encodeURIComponent(installId)}&token=${token}`);

function assertDetail(response: Awaited<ReturnType<typeof call>>, status: number, detail?: RegExp): void {
  assert.equal(response.statusCode, status, response.body);
  const body = json(response);
  assert.deepEqual(Object.keys(body), ['detail']);
  assert.equal(typeof body.detail, 'string');
  if (detail) assert.match(body.detail, detail);
  if (status === 401) assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/);
}

describe('the Token scheme', () => {
  test('an API token in a Token header works wherever Bearer does', async () => {
    const { token } = await apiToken();
    const me = await call('GET', '/v1/me', token);
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(json(me).token.kind, 'api');
    assert.equal((await call('GET', '/v1/sessions', token)).statusCode, 200);
    assert.equal((await call('GET', '/v1/api-tokens', token)).statusCode, 200);
    const made = await call('POST', '/v1/api-tokens', token, 'Token', { name: 'script' });
    assert.equal(made.statusCode, 201, made.body);
    seen(json(made).token);
  });
});

describe('GET /v3/users/token', () => {
  test('trades a user token for a one-hour install token with its deep link, with or without the trailing slash', async () => {
    const { token } = await apiToken();
    for (const slash of ['', '/']) {
      const response = await call('GET', installUrl({ app_key: h.clientId, installid: INSTALL }, slash), token);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = json(response);
      seen(body.token);
      assert.deepEqual(Object.keys(body).sort(), ['deeplink', 'expires_at', 'expires_in', 'installid', 'token']);
      assert.match(body.token, /^tki_[0-9A-Za-z]{38}$/);
      assert.equal(body.installid, INSTALL);
      assert.equal(body.expires_in, 3600);
      assert.match(body.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(Date.parse(body.expires_at), h.clock.now() + 3600 * 1000);
      assert.equal(body.deeplink, `tokend://auth?token=${body.token}`);
    }
  });

  test('a Bearer access token may ask too, and the install token carries its scopes', async () => {
    const { access_token } = await login(h, alice, { scope: 'read' }, scoped);
    const issued = await installToken(seen(access_token), scoped.clientId, INSTALL, 'Bearer');
    const me = await meWithInstall(issued.token);
    assert.equal(me.statusCode, 200, me.body);
    assert.deepEqual(json(me).token.scopes, ['read']);
    assert.equal(json(me).app.client_id, scoped.clientId);
  });

  test('qr=svg adds an SVG QR code of the deep link; any other qr value is 400', async () => {
    const { token } = await apiToken();
    const response = await call('GET', installUrl({ app_key: h.clientId, installid: INSTALL, qr: 'svg' }), token);
    assert.equal(response.statusCode, 200, response.body);
    const body = json(response);
    seen(body.token);
    const svg: string = body.qr_svg;
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 (\d+) \1"/);
    assert.match(svg.trim(), /<\/svg>$/);
    assert.match(svg, /<path [^>]*d="M[^"]+"/);
    assert.equal(svg.match(/<svg\b/g)?.length, 1);
    for (const qr of ['png', '', 'SVG']) {
      assertDetail(await call('GET', installUrl({ app_key: h.clientId, installid: INSTALL, qr }), token), 400, /qr/);
    }
  });

  test('is documented in /openapi.json', async () => {
    const { paths } = json(await h.app.inject({ method: 'GET', url: '/openapi.json' }));
    assert.ok(paths['/v3/users/token']?.get, Object.keys(paths).join(' '));
  });

  test('app_key must name the app of the calling token: another app or an unknown one is 403', async () => {
    const { token } = await apiToken();
    assertDetail(await call('GET', installUrl({ app_key: scoped.clientId, installid: INSTALL }), token), 403, /app_key/);
    assertDetail(await call('GET', installUrl({ app_key: 'app_unknown', installid: INSTALL }), token), 403);
  });

  test('a missing app_key or installid, a bad installid or a repeated parameter is 400 {detail}', async () => {
    const { token } = await apiToken();
    assertDetail(await call('GET', installUrl({ installid: INSTALL }), token), 400, /app_key/);
    assertDetail(await call('GET', installUrl({ app_key: h.clientId }), token), 400, /installid/);
    assertDetail(await call('GET', installUrl({ app_key: h.clientId, installid: 'has space' }), token), 400, /installid/);
    assertDetail(await call('GET', installUrl({ app_key: h.clientId, installid: 'x'.repeat(201) }), token), 400, /installid/);
    assertDetail(await call('GET', `/v3/users/token?app_key=${h.clientId}&installid=a&installid=b`, token), 400, /more than once/);
  });

  test('only a user token for the app in the Authorization header may ask: anything else is 401 {detail}', async () => {
    const { token } = await apiToken();
    const { access_token, refresh_token } = await login(h, alice);
    const install = await installToken(token);
    const query = { app_key: h.clientId, installid: INSTALL };
    assertDetail(await call('GET', installUrl(query)), 401);
    assertDetail(await call('GET', installUrl(query), 'tkp_not-a-token'), 401);
    assertDetail(await call('GET', installUrl(query), seen(refresh_token)), 401);
    assertDetail(await call('GET', installUrl(query), install.token), 401);
    assertDetail(await call('GET', installUrl({ ...query, token: seen(access_token) })), 401);
    assertDetail(await call('GET', installUrl({ ...query, token: install.token })), 401);

    const key = json(await adminRequest(h, 'POST', `/apps/${h.defaultApp.id}/master-keys`, { name: 'partner' })).key as string;
    const master = await authenticateMasterKey(h.core, seen(key));
    assert.ok(master);
    const service = await issueServiceToken(h.core, { ...master, ip: null });
    assertDetail(await call('GET', installUrl(query), seen(service.secret)), 401);
  });
});

describe('install tokens on the endpoints that opt in', () => {
  test('work on /v1/me in the header or as ?token= with their installid, and a URL token makes the answer private', async () => {
    const { token } = await apiToken();
    const install = await installToken(token);
    const inHeader = await call('GET', `/v1/me?installid=${INSTALL}`, install.token);
    assert.equal(inHeader.statusCode, 200, inHeader.body);
    assert.equal(json(inHeader).user_id, alice.id);
    assert.equal(json(inHeader).token.kind, 'install');
    assert.equal(json(inHeader).token.install_id, INSTALL);
    const inQuery = await meWithInstall(install.token);
    assert.equal(inQuery.statusCode, 200, inQuery.body);
    assert.equal(inQuery.headers['cache-control'], 'private, no-store');
    assert.equal(json(inQuery).token.install_id, INSTALL);
  });

  test('are refused for another installid, without one, and on endpoints that do not opt in', async () => {
    const { token } = await apiToken();
    const install = await installToken(token);
    assertDetailless401(await meWithInstall(install.token, 'another-install'));
    assertDetailless401(await call('GET', '/v1/me?installid=another-install', install.token));
    assertDetailless401(await call('GET', '/v1/me', install.token));
    assertDetailless401(await call('GET', `/v1/sessions?installid=${INSTALL}`, install.token));
    const inUrl = await call('GET', `/v1/sessions?installid=${INSTALL}&token=${install.token}`);
    assertDetailless401(inUrl);
    assert.equal(inUrl.headers['cache-control'], 'private, no-store');
    assertDetailless401(await call('POST', `/v1/api-tokens?installid=${INSTALL}`, install.token, 'Token', { name: 'escalate' }));
  });

  test('an access or API token in ?token= is refused even where install tokens are accepted', async () => {
    const { token } = await apiToken();
    const { access_token } = await login(h, alice);
    for (const secret of [seen(access_token), token]) {
      const response = await meWithInstall(secret);
      assertDetailless401(response);
      assert.equal(response.headers['cache-control'], 'private, no-store');
    }
  });

  test('expire after the app\'s install_token_ttl (3600 s)', async () => {
    const { token } = await apiToken();
    const install = await installToken(token);
    h.clock.advance(3599 * 1000);
    assert.equal((await meWithInstall(install.token)).statusCode, 200);
    h.clock.advance(1000);
    assertDetailless401(await meWithInstall(install.token));
    assert.equal((await call('GET', '/v1/me', token)).statusCode, 200, 'the API token that minted it lives on');
  });

  test('die with the API token that minted them, and with the session of the access token that did', async () => {
    const minter = await apiToken();
    const first = await installToken(minter.token);
    const second = await installToken(minter.token, h.clientId, 'second-install');
    assert.equal((await call('DELETE', `/v1/api-tokens/${minter.id}`, minter.token)).statusCode, 204);
    assertDetailless401(await meWithInstall(first.token));
    assertDetailless401(await meWithInstall(second.token, 'second-install'));

    const { access_token } = await login(h, alice);
    const fromSession = await installToken(seen(access_token), h.clientId, INSTALL, 'Bearer');
    assert.equal((await meWithInstall(fromSession.token)).statusCode, 200);
    assert.equal((await call('POST', '/v1/logout', access_token, 'Bearer')).statusCode, 204);
    assertDetailless401(await meWithInstall(fromSession.token));
  });
});

describe('logs', () => {
  test('never show an install token, in a URL or anywhere else, nor any other token a test used', async () => {
    const { token } = await apiToken();
    const install = await installToken(token);
    await meWithInstall(install.token);
    await meWithInstall(install.token, 'another-install');
    await call('GET', `/v1/sessions?installid=${INSTALL}&token=${install.token}`);
    await call('GET', `/v3/users/token/?app_key=${h.clientId}&installid=${INSTALL}&token=${install.token}`);
    const logs = h.logs.join('');
    assert.match(logs, /\/v1\/me\?installid=c12b156b[^"]*token=%5Bredacted%5D/);
    for (const secret of secrets) assert.ok(!logs.includes(secret), `${secret.slice(0, 4)}… reached the logs`);
  });
});

/** /v1/me speaks tokend's own error shape; what matters here is the 401 and its challenge. */
function assertDetailless401(response: Awaited<ReturnType<typeof call>>): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.match(String(response.headers['www-authenticate']), /^Bearer realm="tokend", error="invalid_token"/);
}
