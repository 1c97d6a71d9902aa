import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { adminRequest, createClient, createUser, json, me, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §5.5, seed 004: `POST /v1/oauth/` with username, password, device-info and debug. */

const DAYS_30 = 30 * 86_400;
const PASSWORD = 'pw-in-the-url-9f3a';

let h: Harness; // production, the default
let dev: Harness; // TOKEND_ENV=development

before(async () => {
  [h, dev] = await Promise.all([startHarness(), startHarness({ settings: { env: 'development' } })]);
  await Promise.all([createUser(h, 'alice', PASSWORD), createUser(dev, 'alice', PASSWORD)]);
});
after(() => Promise.all([h.close(), dev.close()]));

type Body = { form: Record<string, string> } | { json: unknown } | { raw: string; type: string };

/** The request a client written from the seed document sends: parameters in the query, the body, or both. */
function deviceLogin(x: Harness, query: Record<string, string> = {}, body?: Body, path = '/v1/oauth/') {
  const search = new URLSearchParams(query).toString();
  const url = search === '' ? path : `${path}?${search}`;
  if (body === undefined) return x.app.inject({ method: 'POST', url });
  const [type, payload] =
    'form' in body ? ['application/x-www-form-urlencoded', new URLSearchParams(body.form).toString()]
    : 'json' in body ? ['application/json', JSON.stringify(body.json)]
    : [body.type, body.raw];
  return x.app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
}

const alice = (extra: Record<string, string> = {}) => ({ username: 'alice', password: PASSWORD, ...extra });
/** Moves past the login rate-limit window (900 s in the harness), so earlier failures do not count. */
const freshWindow = (x: Harness) => x.clock.advance(901_000);
// Each test starts with no failed logins counted against it.
beforeEach(() => [h, dev].forEach(freshWindow));
const withoutDate = ({ date: _date, ...headers }: LightMyRequestResponse['headers']) => headers;

function assertFailure(response: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(response.statusCode, status, response.body);
  const body = json(response);
  assert.deepEqual(Object.keys(body).sort(), ['errors', 'success']);
  assert.equal(body.success, false);
  assert.equal(body.errors.code, code);
  assert.equal(typeof body.errors.message, 'string');
}

async function sessionsOf(x: Harness, token: string) {
  const response = await x.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.statusCode, 200, response.body);
  return json<{ sessions: Array<{ id: string; device_info: string; current: boolean }> }>(response).sessions;
}

describe('POST /v1/oauth/ answers', () => {
  test("the seed's own request, all in the query string with the trailing slash, gets a 30-day opaque token", async () => {
    const response = await deviceLogin(h, alice({ 'device-info': 'Pixel 8' }));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = json(response);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'success']);
    assert.equal(body.success, true);
    assert.deepEqual(Object.keys(body.data).sort(), ['access_token', 'expiry']);
    assert.match(body.data.access_token, /^tka_[0-9A-Za-z]{38,}$/);
    assert.ok(Number.isInteger(body.data.expiry));
    assert.equal(body.data.expiry, Math.floor(h.clock.now() / 1000) + DAYS_30);
    const mine = await me(h, body.data.access_token);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(json(mine).username, 'alice');
    assert.equal(json(mine).token.kind, 'access');
    assert.equal(Date.parse(json(mine).token.expires_at), body.data.expiry * 1000);
  });

  test('form fields, JSON, a mix of query and body, an empty body, and the path without its slash work alike', async () => {
    const requests = [
      () => deviceLogin(h, {}, { form: alice() }),
      () => deviceLogin(h, {}, { json: alice() }),
      () => deviceLogin(h, { username: 'alice' }, { form: { password: PASSWORD, 'device-info': 'mixed' } }),
      () => deviceLogin(h, { username: 'alice', 'device-info': 'mixed' }, { json: { password: PASSWORD } }),
      () => deviceLogin(h, alice(), { form: {} }),
      () => deviceLogin(h, alice(), { raw: '', type: 'application/json' }),
      () => deviceLogin(h, alice(), undefined, '/v1/oauth'),
    ];
    // One at a time: the core counts every attempt in flight against the per-user limit until it succeeds.
    for (const request of requests) {
      const response = await request();
      assert.equal(response.statusCode, 200, response.body);
      assert.equal((await me(h, json(response).data.access_token)).statusCode, 200);
    }
  });

  test('the session is named by device-info, "Unknown" by default, and 200 characters are kept whole', async () => {
    for (const [given, named] of [['iPhone 15 / iOS 18', 'iPhone 15 / iOS 18'], [undefined, 'Unknown'], ['d'.repeat(200), 'd'.repeat(200)]] as const) {
      const response = await deviceLogin(h, {}, { json: alice(given === undefined ? {} : { 'device-info': given }) });
      assert.equal(response.statusCode, 200, response.body);
      const current = (await sessionsOf(h, json(response).data.access_token)).find((s) => s.current);
      assert.equal(current?.device_info, named);
    }
  });

  test('device-info of 201 characters is 400, whatever the credentials', async () => {
    const long = { 'device-info': 'd'.repeat(201) };
    assertFailure(await deviceLogin(h, alice(long)), 400, 'invalid_request');
    assertFailure(await deviceLogin(h, {}, { json: alice(long) }), 400, 'invalid_request');
    assertFailure(await deviceLogin(h, alice({ ...long, password: 'wrong' })), 400, 'invalid_request');
  });
});

describe('POST /v1/oauth/ refuses', () => {
  test('a wrong password, an unknown username and a disabled user alike: 401, same headers, same body', async () => {
    const erin = await createUser(h, 'erin', PASSWORD);
    assert.equal((await adminRequest(h, 'PATCH', `/users/${erin.id}`, { disabled: true })).statusCode, 200);
    const wrong = await deviceLogin(h, alice({ password: 'wrong' }));
    assertFailure(wrong, 401, 'invalid_grant');
    assert.equal(wrong.headers['cache-control'], 'no-store');
    for (const params of [{ username: 'nobody', password: 'wrong' }, { username: 'erin', password: PASSWORD }]) {
      const other = await deviceLogin(h, params);
      assert.deepEqual(withoutDate(other.headers), withoutDate(wrong.headers));
      assert.equal(other.body, wrong.body);
    }
  });

  test('the sixth failed login of a user in the window is 429 with Retry-After, even with the right password', async () => {
    await createUser(h, 'carol', PASSWORD);
    for (let i = 0; i < 5; i += 1) assertFailure(await deviceLogin(h, { username: 'carol', password: `guess ${i}` }), 401, 'invalid_grant');
    const limited = await deviceLogin(h, { username: 'carol', password: PASSWORD });
    assertFailure(limited, 429, 'slow_down');
    assert.ok(Number(limited.headers['retry-after']) > 0, String(limited.headers['retry-after']));
  });

  test('a parameter given twice, in the query and the body or twice in the query, is 400', async () => {
    assertFailure(await deviceLogin(h, alice(), { form: { username: 'alice' } }), 400, 'invalid_request');
    assertFailure(await deviceLogin(h, { username: 'alice' }, { json: alice() }), 400, 'invalid_request');
    const twice = await h.app.inject({ method: 'POST', url: `/v1/oauth/?username=alice&username=bob&password=${PASSWORD}` });
    assertFailure(twice, 400, 'invalid_request');
  });

  test('JSON values that are not strings, a body that is not an object, and a missing password are 400', async () => {
    const bodies: unknown[] = [
      { ...alice(), password: 12345 },
      { username: ['alice'], password: PASSWORD },
      { ...alice(), 'device-info': null },
      { ...alice(), client_id: { id: 1 } },
      [alice()],
      { username: 'alice' },
    ];
    for (const body of bodies) assertFailure(await deviceLogin(h, {}, { json: body }), 400, 'invalid_request');
    assertFailure(await deviceLogin(h, { username: 'alice' }), 400, 'invalid_request');
  });

  test('text/plain is 415, malformed JSON 400, a body over 64 KiB 413, all in the seed shape', async () => {
    assertFailure(await deviceLogin(h, {}, { raw: 'username=alice', type: 'text/plain' }), 415, 'invalid_request');
    assertFailure(await deviceLogin(h, {}, { raw: `{"username":"alice","password":"${PASSWORD}"`, type: 'application/json' }), 400, 'invalid_request');
    assertFailure(await deviceLogin(h, {}, { json: alice({ pad: 'x'.repeat(70_000) }) }), 413, 'invalid_request');
  });

  test('an unknown client_id is 401, and an app without the password grant refuses', async () => {
    assertFailure(await deviceLogin(h, alice({ client_id: 'no-such-client' })), 401, 'invalid_client');
    const machines = await createClient(h, { name: 'machines', grants: ['client_credentials'] });
    assertFailure(await deviceLogin(h, alice({ client_id: machines.clientId })), 400, 'unauthorized_client');
  });
});

describe('POST /v1/oauth/ debug', () => {
  test('in production debug is ignored: the answer is byte-for-byte the one without it', async () => {
    const failures = [alice({ password: 'wrong' }), { username: 'nobody', password: 'wrong' }];
    const baseline = await deviceLogin(h, failures[0]);
    for (const params of failures) {
      const variants = [
        () => deviceLogin(h, params),
        () => deviceLogin(h, { ...params, debug: '1' }),
        () => deviceLogin(h, { debug: '1' }, { form: params }),
        () => deviceLogin(h, {}, { json: { ...params, debug: 1 } }),
        () => deviceLogin(h, { ...params, debug: 'banana' }),
      ];
      for (const variant of variants) {
        freshWindow(h);
        const response = await variant();
        assert.equal(response.statusCode, baseline.statusCode);
        assert.deepEqual(withoutDate(response.headers), withoutDate(baseline.headers));
        assert.equal(response.body, baseline.body);
      }
    }
    assert.ok(!baseline.body.includes('debug'));
    freshWindow(h);
    const plain = await deviceLogin(h, alice());
    const debugged = await deviceLogin(h, alice({ debug: '1' }));
    assert.equal(debugged.statusCode, 200);
    assert.deepEqual(withoutDate(debugged.headers), withoutDate(plain.headers));
    assert.deepEqual(Object.keys(json(debugged)).sort(), ['data', 'success']);
  });

  test('in development debug=1 says which part failed, and which session a login made', async () => {
    const debugOf = async (params: Record<string, string>, status: number) => {
      const response = await deviceLogin(dev, { ...params, debug: '1' });
      assert.equal(response.statusCode, status, response.body);
      return json(response).debug;
    };
    assert.deepEqual(await debugOf({ username: 'nobody', password: 'x' }, 401), { username: 'Username not found' });
    assert.deepEqual(await debugOf(alice({ password: 'wrong' }), 401), { password: 'Password incorrect' });
    const dave = await createUser(dev, 'dave', PASSWORD);
    assert.equal((await adminRequest(dev, 'PATCH', `/users/${dave.id}`, { disabled: true })).statusCode, 200);
    assert.deepEqual(await debugOf({ username: 'dave', password: PASSWORD }, 401), { username: 'User is disabled' });

    const success = await deviceLogin(dev, {}, { json: { ...alice(), debug: 1 } });
    assert.equal(success.statusCode, 200, success.body);
    const { data, debug } = json(success);
    assert.equal(debug.session_id, json(await me(dev, data.access_token)).token.session_id);
  });

  test('in development debug=0 or no debug adds nothing, and any other value is 400', async () => {
    for (const query of [alice({ password: 'wrong', debug: '0' }), alice({ password: 'wrong' })]) {
      assertFailure(await deviceLogin(dev, query), 401, 'invalid_grant');
    }
    assertFailure(await deviceLogin(dev, alice({ debug: '2' })), 400, 'invalid_request');
    assertFailure(await deviceLogin(dev, {}, { json: { ...alice(), debug: true } }), 400, 'invalid_request');
  });
});

describe('POST /v1/oauth/ and the rest of tokend', () => {
  test('deauthorizing a device, by its user or by the operator, kills its token', async () => {
    const login = async (device: string) => json((await deviceLogin(h, alice({ 'device-info': device })))).data.access_token as string;
    const phone = await login('phone');
    const tablet = await login('tablet');
    const tabletSession = (await sessionsOf(h, phone)).find((s) => s.device_info === 'tablet');
    assert.ok(tabletSession);
    const deleted = await h.app.inject({ method: 'DELETE', url: `/v1/sessions/${tabletSession.id}`, headers: { authorization: `Bearer ${phone}` } });
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal((await me(h, tablet)).statusCode, 401);
    assert.equal((await me(h, phone)).statusCode, 200);

    const phoneSession = (await sessionsOf(h, phone)).find((s) => s.current);
    assert.equal((await adminRequest(h, 'DELETE', `/sessions/${phoneSession?.id}`)).statusCode, 204);
    assert.equal((await me(h, phone)).statusCode, 401);
  });

  test('the password in the URL and the issued token never reach the logs', async () => {
    const ok = await deviceLogin(h, alice({ 'device-info': 'log check' }));
    const failed = await deviceLogin(h, { username: 'alice', password: `${PASSWORD}-wrong` });
    await deviceLogin(h, {}, { form: alice() });
    await deviceLogin(h, {}, { json: alice() });
    assert.equal(failed.statusCode, 401);
    const token = json(ok).data.access_token as string;
    const logs = h.logs.join('');
    assert.ok(logs.includes('/v1/oauth/'), 'the requests were logged');
    assert.ok(!logs.includes(PASSWORD), 'a password was logged');
    assert.ok(!logs.includes(token.slice(4)), 'a token was logged');
  });

  test('client_id selects another app, with its own device token lifetime', async () => {
    const mobile = await createClient(h, { name: 'mobile', device_token_ttl: 3600 });
    const response = await deviceLogin(h, { client_id: mobile.clientId }, { form: alice() });
    assert.equal(response.statusCode, 200, response.body);
    const { data } = json(response);
    assert.equal(data.expiry, Math.floor(h.clock.now() / 1000) + 3600);
    assert.equal(json(await me(h, data.access_token)).app.client_id, mobile.clientId);
  });

  test('unknown usernames and wrong passwords take the same time, within 2x of each other', async (t) => {
    const unknown: number[] = [];
    const wrong: number[] = [];
    const timed = async (params: Record<string, string>, into: number[]) => {
      freshWindow(h);
      const start = performance.now();
      const response = await deviceLogin(h, params);
      into.push(performance.now() - start);
      assert.equal(response.statusCode, 401);
    };
    await timed({ username: 'nobody', password: 'warm-up' }, []);
    for (let i = 0; i < 30; i += 1) {
      await timed({ username: `nobody-${i}`, password: `guess ${i}` }, unknown);
      await timed(alice({ password: `guess ${i}` }), wrong);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [u, w] = [median(unknown), median(wrong)];
    t.diagnostic(`median unknown user ${u.toFixed(1)} ms, wrong password ${w.toFixed(1)} ms, ratio ${(Math.max(u, w) / Math.min(u, w)).toFixed(2)}`);
    assert.ok(Math.max(u, w) / Math.min(u, w) < 2, `unknown ${u} ms vs wrong ${w} ms`);
  });
});
