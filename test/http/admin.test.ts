import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOperatorToken } from '../../src/core/operators.js';
import { ADMIN_TOKEN, adminRequest, createUser, json, login, me, postForm, refresh, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §7: the operator API. */

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(() => h.close());

type Client = { clientId: string; clientSecret: string };

async function newApp(body: Record<string, unknown> = {}): Promise<{ id: string; client: Client; body: any }> {
  const response = await adminRequest(h, 'POST', '/apps', { name: 'partner', ...body });
  assert.equal(response.statusCode, 201, response.body);
  const created = json(response);
  return { id: created.id, client: { clientId: created.client_id, clientSecret: created.client_secret }, body: created };
}

const clientCredentials = (client: Client) =>
  postForm(h, '/oauth/token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret });

async function expectInvalidRequest(response: Awaited<ReturnType<typeof adminRequest>>, what: string): Promise<void> {
  assert.equal(response.statusCode, 400, `${what}: ${response.body}`);
  assert.equal(json(response).error, 'invalid_request', what);
}

describe('operator authentication', () => {
  test('no token, a wrong token or a user access token is 401 on /admin/v1/apps', async () => {
    const user = await createUser(h, 'op-probe', 'op probe password');
    const { access_token } = await login(h, user);
    const attempts = [
      {},
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: 'Bearer tko_wrong' },
      { authorization: `Bearer ${access_token}` },
      { authorization: `Token ${ADMIN_TOKEN}` },
    ];
    for (const headers of attempts) {
      const response = await h.app.inject({ method: 'GET', url: '/admin/v1/apps', headers });
      assert.equal(response.statusCode, 401, `${JSON.stringify(headers).slice(0, 30)}: ${response.body}`);
      assert.equal(json(response).error, 'invalid_token');
      assert.match(String(response.headers['www-authenticate']), /^Bearer /);
    }
  });

  test('a tko_ operator token works and is named in the audit log', async () => {
    const { id, secret } = await createOperatorToken(h.core, 'ci');
    assert.match(secret, /^tko_/);
    const response = await h.app.inject({
      method: 'POST',
      url: '/admin/v1/apps',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'made by ci' }),
    });
    assert.equal(response.statusCode, 201, response.body);
    const audit = json(await adminRequest(h, 'GET', `/audit?action=admin.app.created&app_id=${json(response).id}`));
    assert.equal(audit.events.length, 1);
    assert.equal(audit.events[0].actor, `operator:${id}`);
  });
});

describe('apps', () => {
  test('POST shows a tkc_ client_secret once; GET by id or client_id never shows it', async () => {
    const { id, client, body } = await newApp({ name: 'mobile', scopes: ['read'], access_token_format: 'jwt' });
    assert.match(client.clientSecret, /^tkc_/);
    assert.match(client.clientId, /^app_/);
    assert.equal(body.name, 'mobile');
    assert.deepEqual(body.scopes, ['read']);
    assert.equal(body.access_token_ttl, 7200);
    assert.equal(body.refresh_token_ttl, 14 * 86_400);
    assert.equal(body.refresh_reuse_grace_seconds, 0);
    assert.equal(body.deeplink_template, 'tokend://auth?token={token}');
    for (const ref of [id, client.clientId]) {
      const got = await adminRequest(h, 'GET', `/apps/${ref}`);
      assert.equal(got.statusCode, 200, got.body);
      assert.equal(json(got).id, id);
      assert.equal(json(got).client_secret, undefined);
      assert.ok(!got.body.includes(client.clientSecret));
    }
    const list = await adminRequest(h, 'GET', '/apps?limit=200');
    assert.ok(json(list).apps.some((a: { id: string }) => a.id === id));
    assert.ok(!list.body.includes('tkc_'), 'no client secret in the list');
    assert.equal((await adminRequest(h, 'GET', '/apps/no-such-app')).statusCode, 404);
  });

  test('PATCH changes TTLs and new tokens use the new access_token_ttl', async () => {
    const { id, client } = await newApp();
    assert.equal(json(await clientCredentials(client)).expires_in, 7200);
    const patched = await adminRequest(h, 'PATCH', `/apps/${id}`, { access_token_ttl: 600, refresh_token_ttl: 86_400, name: 'renamed' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(json(patched).access_token_ttl, 600);
    assert.equal(json(patched).refresh_token_ttl, 86_400);
    assert.equal(json(patched).name, 'renamed');
    assert.equal(json(patched).client_secret, undefined);
    assert.equal(json(await clientCredentials(client)).expires_in, 600);
    const user = await createUser(h, 'ttl-user', 'ttl user password');
    assert.equal((await login(h, user, {}, client)).expires_in, 600);
  });

  test('unknown fields and bad values are 400 on POST and PATCH', async () => {
    const { id } = await newApp();
    const bad: Array<[string, Record<string, unknown>]> = [
      ['unknown field', { colour: 'blue' }],
      ['ttl 0', { access_token_ttl: 0 }],
      ['ttl as a string', { access_token_ttl: '600' }],
      ['grace 99999', { refresh_reuse_grace_seconds: 99_999 }],
      ['deeplink without {token}', { deeplink_template: 'myapp://open' }],
      ["format 'xml'", { access_token_format: 'xml' }],
      ['unknown grant', { grants: ['implicit'] }],
      ['bad scope name', { scopes: ['has space'] }],
    ];
    for (const [what, body] of bad) {
      await expectInvalidRequest(await adminRequest(h, 'POST', '/apps', { name: 'bad', ...body }), `POST ${what}`);
      await expectInvalidRequest(await adminRequest(h, 'PATCH', `/apps/${id}`, body), `PATCH ${what}`);
    }
    await expectInvalidRequest(await adminRequest(h, 'POST', '/apps', {}), 'POST without a name');
    const unchanged = json(await adminRequest(h, 'GET', `/apps/${id}`));
    assert.equal(unchanged.access_token_ttl, 7200);
    assert.equal(unchanged.deeplink_template, 'tokend://auth?token={token}');
  });

  test('POST /apps/{id}/secret rotates: the old secret stops working, the new one works', async () => {
    const { id, client } = await newApp();
    assert.equal((await clientCredentials(client)).statusCode, 200);
    const rotated = await adminRequest(h, 'POST', `/apps/${id}/secret`);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const newSecret = json(rotated).client_secret;
    assert.match(newSecret, /^tkc_/);
    assert.notEqual(newSecret, client.clientSecret);
    const old = await clientCredentials(client);
    assert.equal(old.statusCode, 401);
    assert.equal(json(old).error, 'invalid_client');
    assert.equal((await clientCredentials({ clientId: client.clientId, clientSecret: newSecret })).statusCode, 200);
  });

  test('DELETE answers 204, then the app is 404 and its tokens and credentials are dead', async () => {
    const { id, client } = await newApp();
    const user = await createUser(h, 'doomed-app-user', 'doomed app password');
    const tokens = await login(h, user, {}, client);
    assert.equal((await adminRequest(h, 'DELETE', `/apps/${id}`)).statusCode, 204);
    assert.equal((await adminRequest(h, 'GET', `/apps/${id}`)).statusCode, 404);
    assert.equal((await adminRequest(h, 'DELETE', `/apps/${id}`)).statusCode, 404);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await clientCredentials(client)).statusCode, 401);
  });

  test('pages of limit=3 through next_cursor return every app exactly once', async () => {
    const made = new Set<string>();
    for (let i = 0; i < 7; i++) {
      made.add((await newApp({ name: `page-${i}` })).id);
      if (i % 2 === 0) h.clock.advance(1000);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const response = await adminRequest(h, 'GET', `/apps?limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(response.statusCode, 200, response.body);
      const page = json(response);
      assert.ok(page.apps.length <= 3);
      seen.push(...page.apps.map((a: { id: string }) => a.id));
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    assert.equal(cursor, null);
    assert.equal(new Set(seen).size, seen.length, 'no app twice');
    for (const id of made) assert.ok(seen.includes(id), `app ${id} is listed`);
    const all = json(await adminRequest(h, 'GET', '/apps?limit=200')).apps;
    assert.equal(seen.length, all.length);
  });

  test('a garbage cursor or limit is 400', async () => {
    for (const query of ['cursor=garbage', 'cursor=%%%', `cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'limit=0', 'limit=abc', 'limit=1000']) {
      await expectInvalidRequest(await adminRequest(h, 'GET', `/apps?${query}`), query);
    }
  });
});

describe('users', () => {
  test('POST answers 201 with id, username and user_profile_id', async () => {
    const response = await adminRequest(h, 'POST', '/users', { username: 'Zo\u00eb', password: 'zoe password 1' });
    assert.equal(response.statusCode, 201, response.body);
    const body = json(response);
    assert.ok(Number.isInteger(body.id));
    assert.equal(body.username, 'Zo\u00eb');
    assert.match(body.user_profile_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(body.password, undefined);
    assert.ok(!response.body.includes('$argon2'));
    const got = await adminRequest(h, 'GET', `/users/${body.id}`);
    assert.equal(json(got).username, 'Zo\u00eb');
    assert.ok(json(await adminRequest(h, 'GET', '/users?limit=200')).users.some((u: { id: number }) => u.id === body.id));
  });

  test('a username differing only in case or Unicode normalization is 409', async () => {
    await createUser(h, 'alice', 'alice password 1');
    for (const username of ['ALICE', 'Alice', 'Zoe\u0308', 'ZOË', 'zoe\u0308']) {
      const response = await adminRequest(h, 'POST', '/users', { username, password: 'another password' });
      assert.equal(response.statusCode, 409, `${username}: ${response.body}`);
      assert.equal(json(response).error, 'conflict');
    }
    await expectInvalidRequest(await adminRequest(h, 'POST', '/users', { username: 'x', password: '' }), 'empty password');
    await expectInvalidRequest(await adminRequest(h, 'POST', '/users', { username: 'lone\ud800', password: 'p' }), 'lone surrogate');
    await expectInvalidRequest(await adminRequest(h, 'POST', '/users', { username: 'tab\there', password: 'p' }), 'control character');
    await expectInvalidRequest(await adminRequest(h, 'POST', '/users', { username: 'x', password: 'p', admin: true }), 'unknown field');
  });

  test('login matches the username case- and normalization-insensitively', async () => {
    assert.equal((await login(h, { username: 'ALICE', password: 'alice password 1' })).token_type, 'Bearer');
    assert.equal((await login(h, { username: 'zoe\u0308', password: 'zoe password 1' })).token_type, 'Bearer');
  });

  test('PATCH {password} ends every session and the new password works', async () => {
    const user = await createUser(h, 'pat', 'old password 1');
    const first = await login(h, user);
    const second = await login(h, user);
    const response = await adminRequest(h, 'PATCH', `/users/${user.id}`, { password: 'new password 2' });
    assert.equal(response.statusCode, 200, response.body);
    for (const t of [first, second]) {
      assert.equal((await me(h, t.access_token)).statusCode, 401);
      assert.equal((await refresh(h, t.refresh_token)).statusCode, 400);
    }
    await assert.rejects(login(h, user), /login failed: 400/);
    assert.equal((await me(h, (await login(h, { ...user, password: 'new password 2' })).access_token)).statusCode, 200);
  });

  test('PATCH {disabled: true} kills every token and refuses logins', async () => {
    const user = await createUser(h, 'dis', 'disabled password');
    const tokens = await login(h, user);
    const apiToken = json(await adminRequest(h, 'POST', `/users/${user.id}/api-tokens`, { app_id: h.defaultApp.id, name: 'api' })).token;
    assert.equal((await me(h, apiToken, 'Token')).statusCode, 200);
    const response = await adminRequest(h, 'PATCH', `/users/${user.id}`, { disabled: true });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(json(response).disabled, true);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await me(h, apiToken, 'Token')).statusCode, 401);
    assert.equal((await refresh(h, tokens.refresh_token)).statusCode, 400);
    await assert.rejects(login(h, user), /login failed: 400/);
    await expectInvalidRequest(await adminRequest(h, 'PATCH', `/users/${user.id}`, {}), 'empty patch');
    await expectInvalidRequest(await adminRequest(h, 'PATCH', `/users/${user.id}`, { disabled: 'yes' }), 'disabled as a string');
  });

  test('DELETE answers 204 and the user\'s tokens die', async () => {
    const user = await createUser(h, 'gone', 'gone password 1');
    const tokens = await login(h, user);
    assert.equal((await adminRequest(h, 'DELETE', `/users/${user.id}`)).statusCode, 204);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await refresh(h, tokens.refresh_token)).statusCode, 400);
    assert.equal((await adminRequest(h, 'GET', `/users/${user.id}`)).statusCode, 404);
    assert.equal((await adminRequest(h, 'DELETE', `/users/${user.id}`)).statusCode, 404);
    assert.equal((await adminRequest(h, 'GET', '/users/not-a-number')).statusCode, 400);
  });
});

describe('sessions and tokens', () => {
  test('GET /users/{id}/sessions lists device_info and ip; DELETE /sessions/{id} kills its tokens', async () => {
    const user = await createUser(h, 'sess', 'session password');
    const phone = await login(h, user, { device_info: 'Galaxy S24' });
    const laptop = await login(h, user, { device_info: 'ThinkPad' });
    const listed = await adminRequest(h, 'GET', `/users/${user.id}/sessions`);
    assert.equal(listed.statusCode, 200, listed.body);
    const { sessions } = json(listed);
    assert.deepEqual(sessions.map((s: { device_info: string }) => s.device_info).sort(), ['Galaxy S24', 'ThinkPad']);
    for (const s of sessions) {
      assert.equal(s.ip, '127.0.0.1');
      assert.equal(s.app_id, h.defaultApp.id);
    }
    const phoneSession = sessions.find((s: { device_info: string }) => s.device_info === 'Galaxy S24').id;
    assert.equal((await adminRequest(h, 'DELETE', `/sessions/${phoneSession}`)).statusCode, 204);
    assert.equal((await me(h, phone.access_token)).statusCode, 401);
    assert.equal((await refresh(h, phone.refresh_token)).statusCode, 400);
    assert.equal((await me(h, laptop.access_token)).statusCode, 200);
    assert.equal((await adminRequest(h, 'DELETE', `/sessions/${phoneSession}`)).statusCode, 404);
    assert.equal((await adminRequest(h, 'GET', '/users/999999/sessions')).statusCode, 404);
  });

  test('GET /tokens?user_id=&kind=access lists metadata only; DELETE /tokens/{id} revokes', async () => {
    const user = await createUser(h, 'tok', 'token password 1');
    const tokens = await login(h, user);
    const listed = await adminRequest(h, 'GET', `/tokens?user_id=${user.id}&kind=access`);
    assert.equal(listed.statusCode, 200, listed.body);
    const list = json(listed).tokens;
    assert.equal(list.length, 1);
    assert.equal(list[0].kind, 'access');
    assert.equal(list[0].user_id, user.id);
    for (const field of Object.keys(list[0])) assert.doesNotMatch(field, /^(token|hash|secret|token_hash)$|hash|secret/);
    assert.ok(!listed.body.includes(tokens.access_token) && !listed.body.includes(tokens.refresh_token));
    assert.deepEqual(json(await adminRequest(h, 'GET', `/tokens?user_id=${user.id}&kind=refresh`)).tokens.map((t: { kind: string }) => t.kind), ['refresh']);

    assert.equal((await adminRequest(h, 'DELETE', `/tokens/${list[0].id}`)).statusCode, 204);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await adminRequest(h, 'DELETE', '/tokens/no-such-token')).statusCode, 404);
    await expectInvalidRequest(await adminRequest(h, 'GET', '/tokens?kind=password'), 'unknown kind');
  });
});

describe('master keys', () => {
  test('POST shows a tkm_ key once; GET lists without it; DELETE answers 204', async () => {
    const { id } = await newApp();
    const created = await adminRequest(h, 'POST', `/apps/${id}/master-keys`);
    assert.equal(created.statusCode, 201, created.body);
    const key = json(created);
    assert.match(key.key, /^tkm_/);
    assert.equal(typeof key.id, 'string');
    assert.ok(Date.parse(key.created_at) > 0);
    const listed = await adminRequest(h, 'GET', `/apps/${id}/master-keys`);
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(json(listed).master_keys.map((k: { id: string }) => k.id), [key.id]);
    assert.equal(json(listed).master_keys[0].key, undefined);
    assert.ok(!listed.body.includes(key.key));
    assert.equal((await adminRequest(h, 'DELETE', `/master-keys/${key.id}`)).statusCode, 204);
    assert.notEqual(json(await adminRequest(h, 'GET', `/apps/${id}/master-keys`)).master_keys[0].revoked_at, null);
    assert.equal((await adminRequest(h, 'DELETE', '/master-keys/no-such-key')).statusCode, 404);
    assert.equal((await adminRequest(h, 'POST', '/apps/no-such-app/master-keys')).statusCode, 404);
    const named = await adminRequest(h, 'POST', `/apps/${id}/master-keys`, { name: 'partner-a' });
    assert.equal(named.statusCode, 201, named.body);
    assert.equal(json(named).name, 'partner-a');
    await expectInvalidRequest(await adminRequest(h, 'POST', `/apps/${id}/master-keys`, { key: 'tkm_mine' }), 'unknown field');
  });

  test('bodiless POSTs whose fields are all optional are accepted', async () => {
    const rotated = await adminRequest(h, 'POST', '/signing-keys/rotate');
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal(typeof json(rotated).kid, 'string');
  });
});

describe('audit', () => {
  test('every admin action above is in the audit log with an operator actor', async () => {
    const actions = [
      'admin.app.created',
      'admin.app.updated',
      'admin.app.secret_rotated',
      'admin.app.deleted',
      'admin.master_key.created',
      'admin.master_key.revoked',
      'admin.user.created',
      'admin.user.password_changed',
      'admin.user.disabled',
      'admin.user.deleted',
      'admin.api_token.created',
      'session.revoked',
      'token.revoked',
    ];
    for (const action of actions) {
      const response = await adminRequest(h, 'GET', `/audit?action=${action}&limit=200`);
      assert.equal(response.statusCode, 200, response.body);
      const { events } = json(response);
      assert.ok(events.length > 0, `${action} is audited`);
      assert.ok(events.every((e: { action: string }) => e.action === action), `the filter keeps only ${action}`);
      assert.ok(events.some((e: { actor: string }) => e.actor.startsWith('operator:')), `${action} names the operator`);
    }
    const rotated = json(await adminRequest(h, 'GET', '/audit?action=admin.app.secret_rotated')).events[0];
    assert.equal(rotated.actor, 'operator:env');
    assert.ok(!JSON.stringify(json(await adminRequest(h, 'GET', '/audit?limit=200'))).match(/tk[carpm]_[0-9A-Za-z]{20}/), 'no secret in the audit log');
  });
});
