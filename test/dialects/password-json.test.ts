import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser, json, me, startHarness, type Harness } from '../helpers/harness.js';

/*
 * Seed 003 (SPEC §5.4): a client that sends exactly the document's JSON body to
 * /oauth/token, then refreshes with grant_type=refresh_token in the same shape.
 */

const DAY = 86_400_000;

function postJson(h: Harness, body: Record<string, unknown>) {
  return h.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
}

describe('seed 003: password and refresh grants with client credentials in a JSON body', () => {
  let h: Harness;
  let user: { username: string; password: string };
  const credentials = () => ({ client_id: h.clientId, client_secret: h.clientSecret });

  before(async () => {
    h = await startHarness();
    user = await createUser(h, 'technician@example.com', 'a password the team gave me');
  });
  after(() => h.close());

  test("the document's login body answers access_token, token_type, expires_in 7200 and refresh_token", async () => {
    const response = await postJson(h, { ...credentials(), username: user.username, password: user.password, grant_type: 'password' });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['cache-control'], 'no-store');
    const body = json(response);
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 7200);
    assert.equal((await me(h, body.access_token)).statusCode, 200);
  });

  test('the access token is valid for 2 hours from the login', async () => {
    const { access_token } = json(await postJson(h, { ...credentials(), username: user.username, password: user.password, grant_type: 'password' }));
    h.clock.advance(7_199_000);
    assert.equal((await me(h, access_token)).statusCode, 200);
    h.clock.advance(1_000);
    assert.equal((await me(h, access_token)).statusCode, 401);
  });

  test('the refresh body answers the same shape: a new access token for 2 hours and a new refresh token', async () => {
    const first = json(await postJson(h, { ...credentials(), username: user.username, password: user.password, grant_type: 'password' }));
    const response = await postJson(h, { ...credentials(), refresh_token: first.refresh_token, grant_type: 'refresh_token' });
    assert.equal(response.statusCode, 200, response.body);
    const second = json(response);
    assert.deepEqual(Object.keys(second).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(second.expires_in, 7200);
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal((await me(h, second.access_token)).statusCode, 200);
  });

  test('a refresh_token can only be used once', async () => {
    const first = json(await postJson(h, { ...credentials(), username: user.username, password: user.password, grant_type: 'password' }));
    assert.equal((await postJson(h, { ...credentials(), refresh_token: first.refresh_token, grant_type: 'refresh_token' })).statusCode, 200);
    const again = await postJson(h, { ...credentials(), refresh_token: first.refresh_token, grant_type: 'refresh_token' });
    assert.equal(again.statusCode, 400);
    assert.equal(json(again).error, 'invalid_grant');
  });

  test('the refresh token is valid for 2 weeks, and each new one for 2 weeks from its refresh', async () => {
    const first = json(await postJson(h, { ...credentials(), username: user.username, password: user.password, grant_type: 'password' }));
    h.clock.advance(14 * DAY - 1_000);
    const renewed = await postJson(h, { ...credentials(), refresh_token: first.refresh_token, grant_type: 'refresh_token' });
    assert.equal(renewed.statusCode, 200, 'still valid one second before two weeks');
    h.clock.advance(14 * DAY);
    const expired = await postJson(h, { ...credentials(), refresh_token: json(renewed).refresh_token, grant_type: 'refresh_token' });
    assert.equal(expired.statusCode, 400);
    assert.equal(json(expired).error, 'invalid_grant');
  });

  test('a wrong client_secret in the body is 401 invalid_client, and nothing is issued', async () => {
    const response = await postJson(h, { client_id: h.clientId, client_secret: 'tkc_wrong', username: user.username, password: user.password, grant_type: 'password' });
    assert.equal(response.statusCode, 401);
    assert.equal(json(response).error, 'invalid_client');
    assert.equal(response.headers['www-authenticate'], undefined, 'no Basic challenge when Basic was not used');
  });

  test('a wrong password is invalid_grant, the same answer as an unknown user', async () => {
    const wrong = await postJson(h, { ...credentials(), username: user.username, password: 'not it', grant_type: 'password' });
    const unknown = await postJson(h, { ...credentials(), username: 'nobody@example.com', password: 'not it', grant_type: 'password' });
    assert.equal(wrong.statusCode, 400);
    assert.equal(wrong.body, unknown.body);
    assert.equal(json(wrong).error, 'invalid_grant');
  });

  test('JSON values of the wrong type are 400 invalid_request, never coerced', async () => {
    for (const body of [
      { ...credentials(), username: user.username, password: 12345, grant_type: 'password' },
      { ...credentials(), username: [user.username], password: user.password, grant_type: 'password' },
      { ...credentials(), username: user.username, password: user.password, grant_type: ['password'] },
    ]) {
      const response = await postJson(h, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(json(response).error, 'invalid_request');
    }
  });
});
