import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { mintSecret } from '../../src/core/tokens.js';
import { adminRequest, createClient, createUser, json, login, me, refresh, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

let nextIp = 1;
/** Each test reports from its own address, so the per-IP limit of one never touches another. */
const freshIp = (): string => `10.0.0.${nextIp++}`;

function report(body: unknown, ip = '10.0.1.1', contentType = 'application/json') {
  return h.app.inject({
    method: 'POST',
    url: '/v1/leaked-tokens',
    remoteAddress: ip,
    headers: { 'content-type': contentType },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Everything a reporter can see of an answer: status, headers (but the date) and body. */
function observable(response: LightMyRequestResponse): unknown {
  const { date: _date, ...headers } = response.headers;
  return { status: response.statusCode, headers, body: response.body };
}

async function auditEvents(action: string): Promise<Array<Record<string, unknown>>> {
  const response = await adminRequest(h, 'GET', `/audit?action=${action}&limit=100`);
  assert.equal(response.statusCode, 200, response.body);
  return json(response).events;
}

async function accepted(body: unknown, ip = freshIp()): Promise<LightMyRequestResponse> {
  const response = await report(body, ip);
  assert.equal(response.statusCode, 202, response.body);
  assert.deepEqual(json(response), { received: true });
  return response;
}

describe('POST /v1/leaked-tokens', () => {
  test('a reported access token is revoked and audited as token.leaked without its secret', async () => {
    const tokens = await login(h, await createUser(h, 'leak-access'));
    assert.equal((await me(h, tokens.access_token)).statusCode, 200);
    await accepted({ token: tokens.access_token });
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    const events = await auditEvents('token.leaked');
    const event = events.find((e) => (e.detail as { kind?: string } | null)?.kind === 'access');
    assert.ok(event, JSON.stringify(events));
    assert.equal(event.actor, 'anonymous');
    assert.equal(typeof event.token_id, 'string');
    assert.equal(typeof event.ip, 'string');
    assert.ok(!JSON.stringify(events).includes(tokens.access_token));
  });

  test('a reported refresh token takes its whole session down, and /metrics counts the revoked session', async () => {
    const revokedSessions = async () => {
      const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
      const lines = text.split('\n').filter((l) => l.startsWith('tokend_tokens_revoked_total{') && l.includes('kind="session"'));
      return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    const before = await revokedSessions();
    const tokens = await login(h, await createUser(h, 'leak-refresh'));
    await accepted({ token: tokens.refresh_token });
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    assert.equal((await refresh(h, tokens.refresh_token)).statusCode, 400);
    assert.equal(await revokedSessions(), before + 1);
  });

  test('a reported API token is revoked; a form body works too', async () => {
    const tokens = await login(h, await createUser(h, 'leak-api'));
    const created = await h.app.inject({
      method: 'POST',
      url: '/v1/api-tokens',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'ci' }),
    });
    assert.equal(created.statusCode, 201, created.body);
    const apiToken = json(created).token as string;
    assert.equal((await me(h, apiToken)).statusCode, 200);
    const response = await report(new URLSearchParams({ token: apiToken }).toString(), freshIp(), 'application/x-www-form-urlencoded');
    assert.equal(response.statusCode, 202, response.body);
    assert.equal((await me(h, apiToken)).statusCode, 401);
    assert.equal((await me(h, tokens.access_token)).statusCode, 200);
  });

  test('a reported master key is revoked with the service tokens it minted', async () => {
    const client = await createClient(h, { name: 'leak-master' });
    const key = json(await adminRequest(h, 'POST', `/apps/${client.id}/master-keys`)).key as string;
    const getToken = () =>
      h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${key}` } });
    const minted = await getToken();
    assert.equal(minted.statusCode, 201, minted.body);
    const serviceToken = json(minted).token as string;
    const introspect = async (token: string) =>
      json(await h.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: `Bearer ${h.core.settings.adminToken}`, 'content-type': 'application/json' }, payload: JSON.stringify({ token }) }));
    assert.equal((await introspect(serviceToken)).active, true);
    await accepted({ token: key });
    assert.equal((await getToken()).statusCode, 401);
    assert.equal((await introspect(serviceToken)).active, false);
    const events = await auditEvents('token.leaked');
    assert.ok(events.some((e) => (e.detail as { kind?: string } | null)?.kind === 'master_key'));
    assert.ok(!JSON.stringify(events).includes(key));
  });

  test('a reported JWT access token is revoked by its hash', async () => {
    const client = await createClient(h, { name: 'leak-jwt', access_token_format: 'jwt' });
    const tokens = await login(h, await createUser(h, 'leak-jwt'), {}, client);
    assert.equal(tokens.access_token.split('.').length, 3);
    assert.equal((await me(h, tokens.access_token)).statusCode, 200);
    await accepted({ tokens: [tokens.access_token] });
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
  });

  test('valid, unknown, malformed, already revoked and foreign tokens get identical answers', async () => {
    const tokens = await login(h, await createUser(h, 'leak-same'));
    const ip = freshIp();
    const valid = await report({ token: tokens.access_token }, ip);
    assert.equal((await me(h, tokens.access_token)).statusCode, 401);
    const answers = [
      await report({ token: tokens.access_token }, ip), // already revoked
      await report({ token: mintSecret('access') }, ip), // unknown
      await report({ token: mintSecret('operator') }, ip), // a kind that cannot be revoked here
      await report({ token: 'tka_not-a-real-token' }, ip), // malformed
      await report({ token: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz' }, ip), // someone else's
      await report({ token: '' }, ip),
      await report({ tokens: [mintSecret('refresh'), 'junk', tokens.refresh_token] }, ip),
    ];
    assert.equal(valid.statusCode, 202);
    for (const answer of answers) assert.deepEqual(observable(answer), observable(valid));
    assert.match(String(valid.headers['content-type']), /^application\/json/);
  });

  test('a reported client secret changes nothing and is audited with its app', async () => {
    const client = await createClient(h, { name: 'leak-client' });
    await accepted({ token: client.clientSecret });
    const user = await createUser(h, 'leak-client-user');
    await login(h, user, {}, client); // the app still authenticates
    const events = await auditEvents('client_secret.leaked');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.app_id, client.id);
    assert.ok(!JSON.stringify(events).includes(client.clientSecret));
  });

  test('only a missing or non-string token, or an unreadable body, is 400', async () => {
    const ip = freshIp();
    for (const body of [{}, { token: 42 }, { tokens: 'tka_x' }, { tokens: [] }, { token: 'a', tokens: ['b'] }, { tokens: Array(101).fill('x') }, '{not json']) {
      const response = await report(body, ip);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(json(response).error, 'invalid_request');
    }
  });

  test('more than 60 reports a minute from one address get 429 with Retry-After', async () => {
    const ip = freshIp();
    for (let i = 0; i < 60; i++) assert.equal((await report({ token: mintSecret('access') }, ip)).statusCode, 202);
    const limited = await report({ token: mintSecret('access') }, ip);
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await report({ token: mintSecret('access') }, freshIp())).statusCode, 202);
    h.clock.advance(61_000);
    assert.equal((await report({ token: mintSecret('access') }, ip)).statusCode, 202);
  });

  test('no reported secret reaches the logs', async () => {
    const tokens = await login(h, await createUser(h, 'leak-logs'));
    const secret = mintSecret('masterKey');
    await accepted({ token: tokens.access_token });
    await accepted({ tokens: [secret, tokens.refresh_token] });
    const logs = h.logs.join('\n');
    assert.ok(logs.includes('/v1/leaked-tokens'));
    for (const value of [tokens.access_token, tokens.refresh_token, secret]) assert.ok(!logs.includes(value));
  });
});
