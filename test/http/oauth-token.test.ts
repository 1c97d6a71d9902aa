import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse as Reply } from 'fastify';
import { mintSecret } from '../../src/core/tokens.js';
import {
  adminRequest,
  basic,
  createClient,
  createUser,
  json,
  login,
  me,
  passwordGrant,
  postForm,
  startHarness,
  type Client,
  type Harness,
} from '../helpers/harness.js';

/* POST /oauth/token (SPEC §4): client authentication, the three grants, scopes, failed logins and their limits. */

type User = { id: number; username: string; password: string };

function assertError(response: Reply, status: number, error: string): void {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(json(response).error, error, response.body);
  assert.equal(typeof json(response).error_description, 'string');
}

function assertTokenPair(response: Reply): { access_token: string; refresh_token: string } {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const body = json(response);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 7200);
  assert.match(body.access_token, /^tka_[0-9A-Za-z]{38}$/);
  assert.match(body.refresh_token, /^tkr_[0-9A-Za-z]{38}$/);
  return body;
}

describe('POST /oauth/token', () => {
  let h: Harness;
  let alice: User;

  before(async () => {
    h = await startHarness();
    alice = await createUser(h);
  });
  after(() => h.close());

  describe('password grant and client authentication', () => {
    test('a form body with client_secret_post issues an uncacheable Bearer pair', async () => {
      const pair = assertTokenPair(await passwordGrant(h, alice));
      assert.equal((await me(h, pair.access_token)).statusCode, 200);
    });

    test('a JSON body is accepted like a form body', async () => {
      const response = await h.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ grant_type: 'password', username: alice.username, password: alice.password, client_id: h.clientId, client_secret: h.clientSecret }),
      });
      const pair = assertTokenPair(response);
      assert.equal(json(await me(h, pair.access_token)).username, alice.username);
    });

    test('client_secret_basic authenticates the client', async () => {
      const response = await postForm(h, '/oauth/token', { grant_type: 'password', username: alice.username, password: alice.password }, { authorization: basic(h.clientId, h.clientSecret) });
      assertTokenPair(response);
    });

    test('a Basic header that authenticated before is refused the moment its secret is rotated, and still checked against the body', async () => {
      const client = await createClient(h, { name: 'rotating', grants: ['client_credentials'] });
      const header = { authorization: basic(client.clientId, client.clientSecret) };
      const issue = (extra: Record<string, string> = {}, headers = header) => postForm(h, '/oauth/token', { grant_type: 'client_credentials', ...extra }, headers);
      assert.equal((await issue()).statusCode, 200);
      assert.equal((await issue()).statusCode, 200, 'a repeat, from what the first remembered');
      assertError(await issue({ client_id: h.clientId }), 400, 'invalid_request');
      assertError(await issue({ client_secret: client.clientSecret }), 400, 'invalid_request');
      assert.equal((await issue({ client_id: client.clientId })).statusCode, 200, 'the same client_id in the body is fine');

      const rotated = await adminRequest(h, 'POST', `/apps/${client.id}/secret`);
      assert.equal(rotated.statusCode, 200, rotated.body);
      assertError(await issue(), 401, 'invalid_client');
      assertError(await issue(), 401, 'invalid_client');
      const fresh = { authorization: basic(client.clientId, json(rotated).client_secret) };
      assert.equal((await issue({}, fresh)).statusCode, 200);
      assert.equal((await issue({}, fresh)).statusCode, 200);
      assertError(await issue(), 401, 'invalid_client');
    });

    test('Basic credentials and a client_secret in the body at once are invalid_request', async () => {
      const response = await postForm(
        h,
        '/oauth/token',
        { grant_type: 'password', username: alice.username, password: alice.password, client_id: h.clientId, client_secret: h.clientSecret },
        { authorization: basic(h.clientId, h.clientSecret) },
      );
      assertError(response, 400, 'invalid_request');
    });

    test('a wrong client secret is invalid_client, with a Basic challenge only when Basic was used', async () => {
      const wrong = mintSecret('clientSecret');
      const posted = await passwordGrant(h, alice, {}, { clientId: h.clientId, clientSecret: wrong });
      assertError(posted, 401, 'invalid_client');
      assert.equal(posted.headers['www-authenticate'], undefined);

      const viaBasic = await postForm(h, '/oauth/token', { grant_type: 'password', username: alice.username, password: alice.password }, { authorization: basic(h.clientId, wrong) });
      assertError(viaBasic, 401, 'invalid_client');
      assert.match(String(viaBasic.headers['www-authenticate']), /^Basic\b/);

      const malformed = await passwordGrant(h, alice, {}, { clientId: h.clientId, clientSecret: 'not-a-secret' });
      assertError(malformed, 401, 'invalid_client');
    });

    test('an unknown client_id is invalid_client', async () => {
      const response = await passwordGrant(h, alice, {}, { clientId: 'app_doesNotExist0000000', clientSecret: h.clientSecret });
      assertError(response, 401, 'invalid_client');
    });

    test('a missing grant_type is invalid_request', async () => {
      const response = await postForm(h, '/oauth/token', { username: alice.username, password: alice.password, client_id: h.clientId, client_secret: h.clientSecret });
      assertError(response, 400, 'invalid_request');
    });

    test('an unknown grant_type is unsupported_grant_type', async () => {
      for (const grantType of ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code', 'constructor', '']) {
        const response = await passwordGrant(h, alice, { grant_type: grantType });
        assertError(response, 400, 'unsupported_grant_type');
      }
    });

    test('an app without the password grant is unauthorized_client', async () => {
      const machine = await createClient(h, { name: 'machine only', grants: ['client_credentials'] });
      assertError(await passwordGrant(h, alice, {}, machine), 400, 'unauthorized_client');
    });
  });

  describe('scopes', () => {
    let scoped: Client;
    before(async () => {
      scoped = await createClient(h, { name: 'scoped', scopes: ['read', 'write'] });
    });

    test('no scope asked grants every scope of the app', async () => {
      const response = await passwordGrant(h, alice, {}, scoped);
      const pair = assertTokenPair(response);
      assert.equal(json(response).scope, 'read write');
      assert.deepEqual(json(await me(h, pair.access_token)).token.scopes, ['read', 'write']);
    });

    test('scope=read grants only read', async () => {
      const response = await passwordGrant(h, alice, { scope: 'read' }, scoped);
      const pair = assertTokenPair(response);
      assert.equal(json(response).scope, 'read');
      assert.deepEqual(json(await me(h, pair.access_token)).token.scopes, ['read']);
    });

    test('a scope the app does not have is invalid_scope', async () => {
      assertError(await passwordGrant(h, alice, { scope: 'admin' }, scoped), 400, 'invalid_scope');
      assertError(await passwordGrant(h, alice, { scope: 'read admin' }, scoped), 400, 'invalid_scope');
    });
  });

  describe('client_credentials grant', () => {
    test('issues an app token without a refresh token, which /v1/me refuses for want of a user', async () => {
      const response = await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(h.clientId, h.clientSecret) });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = json(response);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, 7200);
      assert.match(body.access_token, /^tka_/);
      assert.equal('refresh_token' in body, false);

      const answer = await me(h, body.access_token);
      assert.equal(answer.statusCode, 401);
      assert.match(String(answer.headers['www-authenticate']), /error="invalid_token"/);
    });
  });

  describe('failed logins', () => {
    test('unknown user, wrong password and disabled user get byte-identical answers', async () => {
      const bob = await createUser(h, 'bob', 'bob password 1234');
      const disabled = await adminRequest(h, 'PATCH', `/users/${bob.id}`, { disabled: true });
      assert.equal(disabled.statusCode, 200, disabled.body);

      const answers = [
        await passwordGrant(h, { username: 'nobody-at-all', password: alice.password }),
        await passwordGrant(h, { username: alice.username, password: 'not the password' }),
        await passwordGrant(h, bob),
      ];
      const shape = (r: (typeof answers)[number]) => {
        const { date: _date, ...headers } = r.headers;
        return { status: r.statusCode, headers, body: r.body };
      };
      assertError(answers[0]!, 400, 'invalid_grant');
      assert.deepEqual(shape(answers[1]!), shape(answers[0]!));
      assert.deepEqual(shape(answers[2]!), shape(answers[0]!));
      assert.match(String(answers[0]!.headers['content-type']), /^application\/json/);
      assert.equal(answers[0]!.headers['cache-control'], 'no-store');
    });

    test('the audit log records issuance and failed logins, never the password', async () => {
      const carol = await createUser(h, 'carol', 'carol-s-secret-passphrase');
      const wrong = 'carol-s-WRONG-passphrase';
      await login(h, carol);
      assertError(await passwordGrant(h, { username: carol.username, password: wrong }), 400, 'invalid_grant');

      const issued = json(await adminRequest(h, 'GET', `/audit?action=token.issued&user_id=${carol.id}`)).events;
      assert.equal(issued.length, 1);
      assert.equal(issued[0].user_id, carol.id);
      assert.equal(issued[0].detail.grant, 'password');

      const failed = json(await adminRequest(h, 'GET', '/audit?action=login.failed')).events;
      const carols = failed.filter((e: any) => e.detail?.username === 'carol');
      assert.equal(carols.length, 1);
      assert.equal(carols[0].user_id, carol.id);

      const everything = (await adminRequest(h, 'GET', '/audit?limit=200')).body;
      assert.equal(everything.includes(wrong), false);
      assert.equal(everything.includes(carol.password), false);
    });
  });

  describe('password length', () => {
    test('passwords up to 1024 characters are used whole; 1025 is invalid_request', async () => {
      let password = '';
      for (let i = 0; password.length < 1024; i++) password += String.fromCharCode(33 + (i % 94));
      const long = await createUser(h, 'long-password', password);
      assert.equal(password.length, 1024);

      assertTokenPair(await passwordGrant(h, long));
      assertError(await passwordGrant(h, { username: long.username, password: password.slice(0, -1) }), 400, 'invalid_grant');
      assertError(await passwordGrant(h, { username: long.username, password: `${password}x` }), 400, 'invalid_request');
      const json1025 = await h.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ grant_type: 'password', username: long.username, password: `${password}x`, client_id: h.clientId, client_secret: h.clientSecret }),
      });
      assertError(json1025, 400, 'invalid_request');
    });
  });
});

describe('login rate limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('after five failures the sixth attempt is 429 with Retry-After, even with the right password, until the window ends', async () => {
    const dana = await createUser(h, 'dana', 'dana password 1');
    for (let i = 0; i < 5; i++) {
      // The username compares case-insensitively, so its limit does too.
      assertError(await passwordGrant(h, { username: i % 2 === 0 ? 'dana' : 'DANA', password: `wrong ${i}` }), 400, 'invalid_grant');
    }
    const limited = await passwordGrant(h, dana);
    assert.equal(limited.statusCode, 429, limited.body);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900, `Retry-After: ${limited.headers['retry-after']}`);
    assert.equal(typeof json(limited).error, 'string');

    h.clock.advance((retryAfter - 1) * 1000);
    assert.equal((await passwordGrant(h, dana)).statusCode, 429);
    h.clock.advance(1000);
    assertTokenPair(await passwordGrant(h, dana));
  });

  test('a successful login resets the failure count of its username', async () => {
    const erin = await createUser(h, 'erin', 'erin password 1');
    for (let i = 0; i < 4; i++) assertError(await passwordGrant(h, { username: 'erin', password: `wrong ${i}` }), 400, 'invalid_grant');
    assertTokenPair(await passwordGrant(h, erin));
    for (let i = 0; i < 4; i++) assertError(await passwordGrant(h, { username: 'erin', password: `again ${i}` }), 400, 'invalid_grant');
    assertTokenPair(await passwordGrant(h, erin));
  });

  test('a burst of parallel wrong passwords gets no more guesses than the limit', async () => {
    h.clock.advance(901_000);
    const ivan = await createUser(h, 'ivan', 'ivan password 1');
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => passwordGrant(h, { username: 'ivan', password: `guess ${i}` })));
    const statuses = burst.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 400).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 15, statuses.join(','));
    assert.equal((await passwordGrant(h, ivan)).statusCode, 429);
  });

  test('the per-IP limit counts failures across usernames from one address', async () => {
    const hi = await startHarness({ settings: { loginLimits: { perUser: 100, perIp: 3, windowSeconds: 60 } } });
    try {
      const frank = await createUser(hi, 'frank', 'frank password 1');
      for (const username of ['u1', 'u2', 'frank']) {
        assertError(await passwordGrant(hi, { username, password: 'guess' }), 400, 'invalid_grant');
      }
      const limited = await passwordGrant(hi, frank);
      assert.equal(limited.statusCode, 429, limited.body);
      assert.ok(Number(limited.headers['retry-after']) > 0);

      const elsewhere = await hi.app.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress: '192.0.2.7',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username: frank.username, password: frank.password, client_id: hi.clientId, client_secret: hi.clientSecret }).toString(),
      });
      assertTokenPair(elsewhere);

      hi.clock.advance(61_000);
      assertTokenPair(await passwordGrant(hi, frank));
    } finally {
      await hi.close();
    }
  });
});
