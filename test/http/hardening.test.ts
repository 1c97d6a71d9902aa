import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/http/app.js';
import { ADMIN_TOKEN, adminRequest, basic, createUser, json, login, me, postForm, refresh, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §9: bad input never yields a 500, a stack trace or a leaked secret. */

let h: Harness;
let user: { id: number; username: string; password: string };
let accessToken: string;

before(async () => {
  h = await startHarness();
  user = await createUser(h, 'hardy', 'hardy password 1');
  accessToken = (await login(h, user)).access_token;
});
after(() => h.close());

function assertErrorShape(response: LightMyRequestResponse, status: number, error = 'invalid_request'): Record<string, string> {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = json<Record<string, string>>(response);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  assert.doesNotMatch(response.body, /\bat .+\.(ts|js):\d+/, 'no stack trace');
  return body;
}

const post = (url: string, contentType: string | undefined, payload: string | Buffer, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url, headers: { ...(contentType !== undefined && { 'content-type': contentType }), ...headers }, payload });

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('bad bodies and parameters', () => {
  test('a body over 64 KiB is 413 in the error shape', async () => {
    const big = JSON.stringify({ grant_type: 'password', username: 'x', password: 'p'.repeat(65 * 1024) });
    assertErrorShape(await post('/oauth/token', 'application/json', big), 413);
    assertErrorShape(await post('/oauth/token', 'application/x-www-form-urlencoded', `password=${'p'.repeat(65 * 1024)}`), 413);
    assertErrorShape(await post('/admin/v1/apps', 'application/json', JSON.stringify({ name: 'n'.repeat(65 * 1024) }), admin), 413);
  });

  test('text/plain and application/xml bodies are 415', async () => {
    assertErrorShape(await post('/oauth/token', 'text/plain', 'grant_type=password'), 415);
    assertErrorShape(await post('/oauth/token', 'application/xml', '<grant_type>password</grant_type>'), 415);
    assertErrorShape(await post('/admin/v1/apps', 'text/plain', '{"name":"x"}', admin), 415);
  });

  test('malformed JSON is 400 invalid_request and the description does not echo the body', async () => {
    const marker = 'hunter2-do-not-echo';
    const body = assertErrorShape(await post('/oauth/token', 'application/json', `{"grant_type":"password","password":"${marker}",`), 400);
    assert.ok(!body.error_description!.includes(marker));
    const adminBody = assertErrorShape(await post('/admin/v1/users', 'application/json', `{"username":"u","password":'${marker}'}`, admin), 400);
    assert.ok(!adminBody.error_description!.includes(marker));
    assertErrorShape(await post('/oauth/token', 'application/json', ''), 400);
  });

  test('a JSON array, string or number as the body is 400', async () => {
    for (const payload of ['[]', '["grant_type","password"]', '"grant_type=password"', '42', 'null', 'true']) {
      assertErrorShape(await post('/oauth/token', 'application/json', payload), 400);
      assertErrorShape(await post('/admin/v1/apps', 'application/json', payload, admin), 400);
      assertErrorShape(await post('/v1/api-tokens', 'application/json', payload, { authorization: `Bearer ${accessToken}` }), 400);
    }
  });

  test('wrong JSON types are 400', async () => {
    const cases: Array<[string, unknown, Record<string, string>]> = [
      ['/oauth/token', { grant_type: 'password', username: 123, password: 'x', client_id: h.clientId, client_secret: h.clientSecret }, {}],
      ['/oauth/token', { grant_type: ['password'], client_id: h.clientId, client_secret: h.clientSecret }, {}],
      ['/oauth/token', { grant_type: 'password', username: 'hardy', password: { $ne: null }, client_id: h.clientId, client_secret: h.clientSecret }, {}],
      ['/admin/v1/users', { username: 'typed', password: 12345678 }, admin],
      ['/admin/v1/apps', { name: 7 }, admin],
      ['/v1/api-tokens', { name: 'x', expires_in: '60' }, { authorization: `Bearer ${accessToken}` }],
    ];
    for (const [url, payload, headers] of cases) assertErrorShape(await post(url, 'application/json', JSON.stringify(payload), headers), 400);
  });

  test('a parameter given twice is 400, in a form body and in a query string', async () => {
    assertErrorShape(await post('/oauth/token', 'application/x-www-form-urlencoded', 'grant_type=a&grant_type=b'), 400);
    assertErrorShape(
      await post('/oauth/token', 'application/x-www-form-urlencoded', `grant_type=client_credentials&client_id=${h.clientId}&client_secret=${h.clientSecret}&client_secret=${h.clientSecret}`),
      400,
    );
    assertErrorShape(await h.app.inject({ method: 'GET', url: '/v1/sessions?limit=1&limit=2', headers: { authorization: `Bearer ${accessToken}` } }), 400);
    assertErrorShape(await h.app.inject({ method: 'GET', url: '/admin/v1/apps?cursor=a&cursor=a', headers: admin }), 400);
  });

  test('an unknown route is 404 in the same shape', async () => {
    assertErrorShape(await h.app.inject({ method: 'GET', url: '/no/such/route' }), 404, 'not_found');
    assertErrorShape(await h.app.inject({ method: 'PUT', url: '/oauth/token' }), 404, 'not_found');
    assertErrorShape(await h.app.inject({ method: 'GET', url: `/v1/sessions/${'x'.repeat(300)}`, headers: { authorization: `Bearer ${accessToken}` } }), 404, 'not_found');
  });

  test('__proto__ and constructor keys are refused or harmless, never a 500', async () => {
    const poisoned = [
      '{"__proto__":{"admin":true},"grant_type":"client_credentials"}',
      '{"constructor":{"prototype":{"admin":true}},"grant_type":"client_credentials"}',
      '{"name":"p","__proto__":{"scopes":["root"]}}',
    ];
    for (const payload of poisoned) {
      for (const [url, headers] of [['/oauth/token', {}], ['/admin/v1/apps', admin], ['/v1/api-tokens', { authorization: `Bearer ${accessToken}` }]] as const) {
        const response = await post(url, 'application/json', payload, headers);
        assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${url} ${payload}: ${response.statusCode} ${response.body}`);
      }
    }
    const form = await post('/oauth/token', 'application/x-www-form-urlencoded', `__proto__=x&constructor=y&grant_type=client_credentials&client_id=${h.clientId}&client_secret=${h.clientSecret}`);
    assert.ok(form.statusCode < 500, form.body);
    const query = await h.app.inject({ method: 'GET', url: '/v1/sessions?__proto__=1&constructor=2', headers: { authorization: `Bearer ${accessToken}` } });
    assert.ok(query.statusCode < 500, query.body);
    assert.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype is untouched');
    assert.equal(({} as Record<string, unknown>).scopes, undefined);
  });
});

/** mulberry32: a seeded generator, so a failing request can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes `head` and then `bodyBytes` of body on one raw connection (stopping early if it closes),
 * optionally followed by `then`; resolves with all that came back and how much body was written.
 */
function rawExchange(port: number, head: string, bodyBytes: number, then = ''): Promise<{ received: string; written: number }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let written = 0;
    let closed = false;
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      resolve({ received, written });
    });
    socket.on('connect', async () => {
      socket.write(head);
      const chunk = Buffer.alloc(64 * 1024, 'p');
      while (written < bodyBytes && !closed) {
        written += chunk.length;
        if (!socket.write(chunk)) await new Promise((drained) => socket.once('drain', drained).once('close', drained));
      }
      if (!closed) socket.write(then);
      setTimeout(() => socket.end(), 1_000);
    });
  });
}

describe('refused uploads (lingering close)', () => {
  let port: number;
  before(async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.app.server.address() as { port: number }).port;
  });

  test('a 1 MiB upload gets its 413, and the same connection then serves the next request', async () => {
    const { received } = await rawExchange(
      port,
      `POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${1024 * 1024}\r\n\r\n`,
      1024 * 1024,
      'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n',
    );
    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, ['413', '200'], received.slice(0, 400));
  });

  test('an upload that never ends is read only up to a bound, then the connection is cut', async () => {
    const declared = 200 * 1024 * 1024;
    const { received, written } = await rawExchange(
      port,
      `POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`,
      declared,
    );
    assert.match(received, /^HTTP\/1\.1 413/);
    assert.ok(written < 32 * 1024 * 1024, `the server read ${(written / 1024 / 1024).toFixed(0)} MiB of a refused upload`);
  });
});

describe('no 500 ever', () => {
  test('200 random malformed requests all answer below 500 with parseable JSON', async (t) => {
    // Its own server: random admin calls may delete the default app or the user.
    const f = await startHarness();
    t.after(() => f.close());
    const fuzzUser = await createUser(f, 'fuzzy', 'fuzzy password 1');
    const fuzzToken = (await login(f, fuzzUser)).access_token;
    const seed = Number(process.env.FUZZ_SEED ?? 20261101);
    const rnd = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const text = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => 32 + Math.floor(rnd() * 95)));
    const id = () => pick(['1', '0', '-1', '9999999999999999999999', 'abc', '%00', '..%2F..%2Fetc', pick(['x'.repeat(250), 'x'.repeat(199)]), encodeURIComponent(text(12)), f.defaultApp.id, f.clientId, String(fuzzUser.id)]);
    const routes: Array<[string, () => string]> = [
      ['POST', () => '/oauth/token'], ['POST', () => '/oauth/token'], ['POST', () => '/oauth/revoke'], ['POST', () => '/oauth/introspect'],
      ['GET', () => '/.well-known/jwks.json'], ['GET', () => '/.well-known/oauth-authorization-server'],
      ['GET', () => '/v1/me'], ['GET', () => '/v1/sessions'], ['DELETE', () => `/v1/sessions/${id()}`], ['POST', () => '/v1/logout'],
      ['POST', () => '/v1/api-tokens'], ['GET', () => '/v1/api-tokens'], ['DELETE', () => `/v1/api-tokens/${id()}`],
      ['GET', () => '/admin/v1/apps'], ['POST', () => '/admin/v1/apps'], ['GET', () => `/admin/v1/apps/${id()}`], ['PATCH', () => `/admin/v1/apps/${id()}`],
      ['DELETE', () => `/admin/v1/apps/${id()}`], ['POST', () => `/admin/v1/apps/${id()}/secret`], ['POST', () => `/admin/v1/apps/${id()}/master-keys`],
      ['GET', () => `/admin/v1/apps/${id()}/master-keys`], ['DELETE', () => `/admin/v1/master-keys/${id()}`], ['POST', () => '/admin/v1/users'],
      ['GET', () => '/admin/v1/users'], ['GET', () => `/admin/v1/users/${id()}`], ['PATCH', () => `/admin/v1/users/${id()}`], ['DELETE', () => `/admin/v1/users/${id()}`],
      ['GET', () => `/admin/v1/users/${id()}/sessions`], ['POST', () => `/admin/v1/users/${id()}/api-tokens`], ['DELETE', () => `/admin/v1/sessions/${id()}`],
      ['GET', () => '/admin/v1/tokens'], ['DELETE', () => `/admin/v1/tokens/${id()}`], ['GET', () => '/admin/v1/audit'], ['GET', () => '/admin/v1/signing-keys'],
      ['GET', () => '/healthz'], ['GET', () => '/readyz'], ['POST', () => '/api/auth/v1.0/get_token/'], ['POST', () => '/api/auth/v1.0/revoke_token/'],
      ['POST', () => '/api/auth/v1/access_tokens'], ['GET', () => '/v3/users/token'], ['POST', () => '/v1/oauth/'],
    ];
    const query = () =>
      pick([
        '',
        `?limit=${pick(['0', '-5', 'abc', '1e9', '3'])}`,
        `?cursor=${encodeURIComponent(text(20))}`,
        `?token=${encodeURIComponent(text(30))}&installid=${encodeURIComponent(text(10))}`,
        `?kind=${pick(['access', 'nope', ''])}&user_id=${pick(['1', 'x', '-1'])}&since=${encodeURIComponent(text(8))}`,
        `?a=1&a=2`,
        `?${encodeURIComponent(text(10))}=${encodeURIComponent(text(10))}`,
        '?%zz=%%',
      ]);
    const contentTypes = [
      undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded',
      'application/vnd.api+json', 'text/plain', 'application/xml', 'multipart/form-data; boundary=xyz', 'application/octet-stream', text(20), '',
    ];
    const body = () =>
      pick<() => string | Buffer>([
        () => bytes(Math.floor(rnd() * 300)),
        () => text(Math.floor(rnd() * 300)),
        () => JSON.stringify({ grant_type: pick(['password', 'refresh_token', 'client_credentials', text(5)]), username: pick([text(5), 1, null, [], {}]), password: pick([text(5), 2, true]), scope: pick([text(8), ['a'], 3]) }),
        () => JSON.stringify({ name: pick([text(5), 1, null, '']), scopes: pick([[text(3)], 'x', 5]), expires_in: pick([0, -1, 1.5, '60', 1e20]), app_id: pick([text(5), 3]) }),
        () => `grant_type=${encodeURIComponent(text(8))}&username=${encodeURIComponent(text(8))}&password=%&token=%E0%A4%A`,
        () => '['.repeat(20_000) + ']'.repeat(20_000),
        () => `{"a":${'{"b":'.repeat(3000)}1${'}'.repeat(3000)}}`,
        () => JSON.stringify({ access_token_ttl: pick([0, 1e300, -1, 'x']), refresh_reuse_grace_seconds: pick([99_999, -1]), deeplink_template: text(10), disabled: pick(['yes', 1]), password: pick(['', 'x'.repeat(2000)]) }),
        () => '',
      ])();
    const authorization = () =>
      pick([
        undefined, `Bearer ${text(40)}`, `Token ${text(40)}`, `Basic ${bytes(30).toString('base64')}`, `Basic ${Buffer.from(`${f.clientId}:${text(10)}`).toString('base64')}`,
        `Bearer ${ADMIN_TOKEN}`, `Bearer ${fuzzToken}`, `Token ${fuzzToken}`, `Bearer tka_${'A'.repeat(38)}`, 'Bearer', 'Bearer  ', text(60), `Bearer ${'x'.repeat(12_000)}`,
        `Basic ${Buffer.from(`${'%'.repeat(5)}:${'%E0'.repeat(3)}`).toString('base64')}`, `Bearer eyJ${text(20)}.eyJ${text(20)}.${text(20)}`,
      ]);

    for (let i = 0; i < 200; i++) {
      const [routeMethod, path] = pick(routes);
      const method = (rnd() < 0.85 ? routeMethod : pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'])) as 'GET';
      const url = path() + query();
      const contentType = pick(contentTypes);
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers['content-type'] = contentType;
      const auth = authorization();
      if (auth !== undefined) headers.authorization = auth;
      if (rnd() < 0.3) headers['x-junk'] = 'j'.repeat(Math.floor(rnd() * 12_000));
      if (rnd() < 0.2) headers['user-agent'] = text(Math.floor(rnd() * 2000));
      if (rnd() < 0.2) headers['x-forwarded-for'] = pick([text(20), '1.2.3.4, 5.6.7.8', '::1']);
      if (rnd() < 0.1) headers.accept = pick(['application/xml', text(15), '*/*']);
      const payload = method === 'GET' || (method as string) === 'OPTIONS' ? (rnd() < 0.2 ? body() : undefined) : body();
      const response = await f.app.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
      const what = `#${i} (seed ${seed}) ${method} ${url.slice(0, 80)} [${String(contentType).slice(0, 30)}] → ${response.statusCode} ${response.body.slice(0, 200)}`;
      assert.ok(response.statusCode < 500, what);
      if (/json/.test(String(response.headers['content-type'])) && response.body !== '') assert.doesNotThrow(() => JSON.parse(response.body), what);
      assert.doesNotMatch(response.body, /\bat .+\.(ts|js):\d+:\d+/, what);
    }

    assert.equal((await f.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const app = json(await adminRequest(f, 'POST', '/apps', { name: 'after the storm' }));
    const survivor = await createUser(f, 'survivor', 'survivor password');
    const tokens = await login(f, survivor, {}, { clientId: app.client_id, clientSecret: app.client_secret });
    assert.equal((await me(f, tokens.access_token)).statusCode, 200, 'the server still issues and verifies tokens');
  });
});

describe('operations and documentation', () => {
  test('/healthz and /readyz answer 200', async () => {
    for (const url of ['/healthz', '/readyz']) {
      const response = await h.app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(json(response).status, 'ok');
    }
  });

  test('/openapi.json is OpenAPI 3.1 and lists the token, self-service and operator endpoints', async () => {
    const response = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const document = json(response);
    assert.match(document.openapi, /^3\.1\./);
    for (const path of ['/oauth/token', '/v1/me', '/admin/v1/apps']) assert.ok(path in document.paths, `${path} is documented`);
    assert.ok(document.paths['/oauth/token'].post);
    assert.ok(document.paths['/admin/v1/apps'].post && document.paths['/admin/v1/apps'].get);
  });

  test('/docs serves the Swagger UI and its assets locally', async () => {
    let url = '/docs';
    let response = await h.app.inject({ method: 'GET', url });
    for (let hops = 0; response.statusCode >= 300 && response.statusCode < 400 && hops < 5; hops++) {
      url = new URL(String(response.headers.location), `http://tokend.test${url}`).pathname;
      response = await h.app.inject({ method: 'GET', url });
    }
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.match(response.body, /swagger/i);
    const html = response.body;
    const external = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]).filter((u) => new URL(u).host !== 'tokend.test');
    assert.deepEqual(external, [], 'no asset from another host');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')));
    const spec = await h.app.inject({ method: 'GET', url: new URL('./json', `http://tokend.test${url.endsWith('/') ? url : `${url}/`}`).pathname });
    assert.equal(spec.statusCode, 200);
    assert.match(json(spec).openapi, /^3\.1\./);
    for (const asset of assets) {
      const resolved = new URL(asset, `http://tokend.test${url}`);
      assert.equal(resolved.host, 'tokend.test', asset);
      const got = await h.app.inject({ method: 'GET', url: resolved.pathname });
      assert.equal(got.statusCode, 200, `${asset}: ${got.statusCode}`);
      if (asset.endsWith('swagger-initializer.js')) {
        const code = got.body.replace(/^\s*\/\/.*$/gm, '');
        assert.deepEqual([...code.matchAll(/https?:\/\/[^\s"'`]+/g)].map((m) => m[0]), [], 'the initializer loads nothing from another host');
        assert.match(code, /url: resolveUrl\('\.\/json'\)/);
      }
    }
  });
});

describe('secrets never in logs', () => {
  test('a full flow leaves no password, client secret, admin token or issued token in the logs', async () => {
    const s = await startHarness();
    try {
      const password = 'log-flow-password-Xq7';
      const wrongPassword = 'wrong-log-password-Zr9';
      const flowUser = await createUser(s, 'logger', password);
      const first = await login(s, flowUser, { device_info: 'log test' });
      const rotated = json(await refresh(s, first.refresh_token));
      assert.ok(rotated.access_token);
      assert.equal((await me(s, rotated.access_token)).statusCode, 200);
      const apiToken = json(
        await s.app.inject({ method: 'POST', url: '/v1/api-tokens', headers: { authorization: `Bearer ${rotated.access_token}`, 'content-type': 'application/json' }, payload: '{"name":"log"}' }),
      ).token as string;
      assert.equal((await me(s, apiToken, 'Token')).statusCode, 200);
      const jsonLogin = await s.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/json', authorization: basic(s.clientId, s.clientSecret) },
        payload: JSON.stringify({ grant_type: 'password', username: 'logger', password }),
      });
      const second = json(jsonLogin);
      assert.equal((await postForm(s, '/oauth/revoke', { token: second.refresh_token }, { authorization: basic(s.clientId, s.clientSecret) })).statusCode, 200);
      const created = json(await adminRequest(s, 'POST', '/apps', { name: 'log app' }));
      const key = json(await adminRequest(s, 'POST', `/apps/${created.id}/master-keys`, { name: 'k' })).key as string;
      await s.app.inject({ method: 'GET', url: `/v1/me?token=${rotated.access_token}&password=${password}` });
      await s.app.inject({ method: 'GET', url: `/v1/sessions?access_token=${rotated.access_token}` });
      await s.app.inject({ method: 'POST', url: `/oauth/token?password=${password}&client_secret=${s.clientSecret}&refresh_token=${rotated.refresh_token}` });
      await s.app.inject({ method: 'GET', url: `/admin/v1/apps?token=${ADMIN_TOKEN}` });
      await s.app.inject({ method: 'GET', url: `/no/such/route?token=${apiToken}` });
      await s.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/json' }, payload: `{"password":"${password}",` });
      const failed = await postForm(s, '/oauth/token', { grant_type: 'password', username: 'logger', password: wrongPassword, client_id: s.clientId, client_secret: s.clientSecret });
      assert.equal(failed.statusCode, 400);

      const logs = s.logs.join('');
      assert.ok(s.logs.length > 10, 'requests were logged');
      assert.match(logs, /token=%5Bredacted%5D/, 'URL tokens are logged redacted');
      const secrets = {
        password,
        wrongPassword,
        clientSecret: s.clientSecret,
        newClientSecret: created.client_secret,
        masterKey: key,
        adminToken: ADMIN_TOKEN,
        firstAccess: first.access_token,
        firstRefresh: first.refresh_token,
        rotatedAccess: rotated.access_token,
        rotatedRefresh: rotated.refresh_token,
        secondAccess: second.access_token,
        secondRefresh: second.refresh_token,
        apiToken,
      };
      for (const [name, secret] of Object.entries(secrets)) {
        assert.equal(typeof secret, 'string', name);
        assert.ok(!logs.includes(secret), `the logs contain the ${name}`);
        assert.ok(!logs.includes(encodeURIComponent(secret)), `the logs contain the ${name}, URL-encoded`);
      }
    } finally {
      await s.close();
    }
  });

  test('at level warn a failed request is logged with its method, redacted URL and error, and no token', async () => {
    const s = await startHarness();
    const lines: string[] = [];
    const quiet = await buildApp({ core: s.core, logLevel: 'warn', logStream: new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }) });
    try {
      const user = await createUser(s, 'warn-logger');
      const tokens = await login(s, user);
      // A token the cache has not seen needs the store, which is gone: 503, logged as a failed request.
      await s.store.close();
      const failed = await quiet.inject({ method: 'GET', url: `/v1/me?installid=phone`, headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.ok(failed.statusCode >= 500, failed.body);
      const entry = lines.map((line) => JSON.parse(line) as { msg: string; req?: { method: string; url: string }; err?: unknown }).find((line) => line.msg === 'request failed');
      assert.ok(entry !== undefined, lines.join(''));
      assert.deepEqual({ method: entry.req?.method, url: entry.req?.url }, { method: 'GET', url: '/v1/me?installid=phone' });
      assert.ok(entry.err !== undefined);
      assert.ok(!lines.join('').includes(tokens.access_token));
    } finally {
      await quiet.close();
      await s.close().catch(() => {});
    }
  });
});
