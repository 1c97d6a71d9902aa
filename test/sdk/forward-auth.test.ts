import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseForwardAuthRules } from '../../src/core/forward-auth-rules.js';
import { buildApp } from '../../src/http/app.js';
import { adminRequest, createClient, createUser, json, login, startHarness, type Client, type Harness } from '../helpers/harness.js';
import { exited, startServer, TOKEND_MAIN } from '../helpers/serve.js';

/** GET /v1/forward-auth as nginx and Traefik call it: the original request travels in headers. */

const RULES = parseForwardAuthRules(
  JSON.stringify({
    rules: [
      { path: '/v3/tooltips', methods: ['GET'], kinds: ['install'], install_tokens_in_query: true },
      { path: '/api/assets', kinds: ['access'], scopes: ['assets:read'] },
      { path: '/api/data/*', kinds: ['service'] },
    ],
  }),
);
const INSTALL = 'install-7d1f';

let h: Harness;
let app: Awaited<ReturnType<typeof buildApp>>;
let alice: { id: number; username: string; password: string };
let assets: Client;
let serviceToken: string;
let installToken: string;

before(async () => {
  h = await startHarness();
  app = await buildApp({ core: h.core, logLevel: 'silent', forwardAuthRules: RULES });
  await app.ready();
  alice = await createUser(h, 'alice', 'alice password 1');
  assets = await createClient(h, { name: 'assets', scopes: ['assets:read', 'other'] });
  const key = json<{ key: string }>(await adminRequest(h, 'POST', `/apps/${assets.id}/master-keys`)).key;
  const minted = await h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${key}` } });
  serviceToken = json<{ token: string }>(minted).token;
  const { access_token } = await login(h, alice);
  const install = await h.app.inject({ method: 'GET', url: `/v3/users/token?app_key=${h.clientId}&installid=${INSTALL}`, headers: { authorization: `Bearer ${access_token}` } });
  installToken = json<{ token: string }>(install).token;
});
after(async () => {
  await app.close();
  await h.close();
});

const nginx = (uri: string, token?: string, method = 'GET') =>
  app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-uri': uri, 'x-original-method': method, ...(token !== undefined && { authorization: `Bearer ${token}` }) } });

describe('forward-auth: allow', () => {
  test('a token with the route\'s scope is 200 with the identity headers', async () => {
    const { access_token } = await login(h, alice, { scope: 'assets:read' }, assets);
    const response = await nginx('/api/assets?page=2', access_token);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['x-tokend-user-id'], String(alice.id));
    assert.equal(response.headers['x-tokend-client-id'], assets.clientId);
    assert.equal(response.headers['x-tokend-scopes'], 'assets:read');
    assert.equal(response.headers['x-tokend-token-kind'], 'access');
  });

  test('a service token on a prefix route has no user id', async () => {
    const response = await nginx('/api/data/v1/records', serviceToken);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['x-tokend-user-id'], '');
    assert.equal(response.headers['x-tokend-token-kind'], 'service');
  });

  test('an install token in the query of a route that allows it, with its install id', async () => {
    const response = await nginx(`/v3/tooltips?installid=${INSTALL}&token=${installToken}`);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['x-tokend-token-kind'], 'install');
  });

  test('Traefik\'s X-Forwarded-Method and X-Forwarded-Uri work the same', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-forwarded-uri': '/api/data/v1/records', 'x-forwarded-method': 'GET', authorization: `Token ${serviceToken}` } });
    assert.equal(response.statusCode, 200, response.body);
  });
});

describe('forward-auth: deny', () => {
  test('no token, a bad token and a revoked one are 401 with an RFC 6750 challenge', async () => {
    const { access_token: revoked } = await login(h, alice, { scope: 'assets:read' }, assets);
    const revocation = await h.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: revoked, client_id: assets.clientId, client_secret: assets.clientSecret }) });
    assert.equal(revocation.statusCode, 200, revocation.body);
    for (const token of [undefined, 'tka_notatoken', revoked]) {
      const response = await nginx('/api/assets', token);
      assert.equal(response.statusCode, 401, response.body);
      assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
    }
  });

  test('a live token without the scope is 403 insufficient_scope', async () => {
    const { access_token } = await login(h, alice, { scope: 'other' }, assets);
    const response = await nginx('/api/assets', access_token);
    assert.equal(response.statusCode, 403, response.body);
    assert.match(String(response.headers['www-authenticate']), /error="insufficient_scope", scope="assets:read"/);
  });

  test('a token kind the route does not admit is 401', async () => {
    const { access_token } = await login(h, alice, { scope: 'assets:read' }, assets);
    assert.equal((await nginx('/api/data/v1/records', access_token)).statusCode, 401);
    assert.equal((await nginx('/api/assets', serviceToken)).statusCode, 401);
  });

  test('an install token with another install id, or in the query of a route that does not allow it, is 401', async () => {
    assert.equal((await nginx(`/v3/tooltips?installid=other&token=${installToken}`)).statusCode, 401);
    assert.equal((await nginx(`/api/data/v1/records?token=${serviceToken}`)).statusCode, 401);
    assert.equal((await nginx(`/v3/tooltips?installid=${INSTALL}&access_token=${installToken}`)).statusCode, 401);
  });

  test('a path no rule covers, or a method the rule leaves out, is 403', async () => {
    const uncovered = await nginx('/admin/secret', serviceToken);
    assert.equal(uncovered.statusCode, 403);
    // No scope would lift this refusal, so the challenge names none (RFC 6750 §3) and the body says why.
    assert.equal(uncovered.headers['www-authenticate'], 'Bearer realm="tokend", error="insufficient_scope"');
    assert.match(uncovered.body, /no forward-auth rule covers GET \/admin\/secret/);
    assert.equal((await nginx(`/v3/tooltips?installid=${INSTALL}&token=${installToken}`, undefined, 'DELETE')).statusCode, 403);
  });

  test('a path two routers could read differently is refused with 403: dot segments, encoded or double slashes', async () => {
    const { access_token } = await login(h, alice, { scope: 'assets:read' }, assets);
    for (const uri of ['/api/assets/../data/v1/records', '/api/assets/%2e%2e/data', '/api/assets%2f..%2fdata', '//evil.example/api/assets', '/api\\assets', '/api/./assets']) {
      const response = await nginx(uri, access_token);
      assert.equal(response.statusCode, 403, uri);
    }
  });

  test('the path is judged decoded and case-folded, as the upstream\'s router may read it', async () => {
    const { access_token } = await login(h, alice, { scope: 'assets:read' }, assets);
    assert.equal((await nginx('/%61pi/data/v1/records', access_token)).statusCode, 401, 'judged as /api/data: service tokens only');
    assert.equal((await nginx('/API/DATA/v1/records', access_token)).statusCode, 401);
    assert.equal((await nginx('/API/Assets/', access_token)).statusCode, 200);
  });

  test('whatever the proxy sends, the answer is 401 or 403 without a token: never a status nginx turns into 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), fc.constantFrom('GET', 'POST', 'DELETE', 'get', ''), async (uri, method) => {
        const response = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-uri': `/${uri}`.replace(/[^\x20-\x7e]/g, ''), 'x-original-method': method } });
        return response.statusCode === 401 || response.statusCode === 403;
      }),
      { numRuns: 200 },
    );
  });

  test('a proxy that sends no original URI gets 403, never a status nginx turns into 500', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { authorization: `Bearer ${serviceToken}` } });
    assert.equal(response.statusCode, 403);
  });
});

describe('forward-auth: configuration', () => {
  test('without a rules file any access, API or service token passes, and install tokens in the query do not', async () => {
    const response = await h.app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-uri': '/anything', authorization: `Bearer ${serviceToken}` } });
    assert.equal(response.statusCode, 200);
    const query = await h.app.inject({ method: 'GET', url: '/v1/forward-auth', headers: { 'x-original-uri': `/anything?installid=${INSTALL}&token=${installToken}` } });
    assert.equal(query.statusCode, 401);
  });

  test('a bad rules file stops start-up with one line naming TOKEND_FORWARD_AUTH_RULES', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokend-rules-'));
    const cases: Array<[string, RegExp]> = [
      ['{', /not valid JSON/],
      ['{"rules": []}', /at least one rule/],
      ['{"rules": [{"path": "api"}]}', /path must be a string starting with \//],
      ['{"rules": [{"path": "/a", "kinds": ["refresh"]}]}', /kinds has "refresh"/],
      ['{"rules": [{"path": "/a", "install_tokens_in_query": true}]}', /kinds leave install out/],
      ['{"rules": [{"path": "/a/*/b"}]}', /may only end in \/\*/],
      ['{"rules": [{"path": "/a", "scope": ["x"]}]}', /unknown field "scope"/],
    ];
    for (const [text, reason] of cases) {
      const file = join(dir, 'rules.json');
      writeFileSync(file, text);
      assert.throws(
        () => loadConfig({ TOKEND_FORWARD_AUTH_RULES: file }),
        (error: unknown) => error instanceof ConfigError && error.variable === 'TOKEND_FORWARD_AUTH_RULES' && reason.test(error.message) && !error.message.includes('\n'),
      );
    }
    assert.throws(() => loadConfig({ TOKEND_FORWARD_AUTH_RULES: join(dir, 'missing.json') }), /TOKEND_FORWARD_AUTH_RULES names a file that cannot be read/);
  });
});

describe('forward-auth: tokend serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokend-serve-rules-'));
  const env = { TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`, TOKEND_LOG_LEVEL: 'warn' };
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--forward-auth-rules is read at start and decides /v1/forward-auth', async () => {
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify({ rules: [{ path: '/only/*' }] }));
    const server = await startServer({ env, args: [TOKEND_MAIN, 'serve', '--port', '0', '--forward-auth-rules', file] });
    try {
      const response = await fetch(`${server.url}/v1/forward-auth`, { headers: { 'x-original-uri': '/elsewhere', 'x-original-method': 'GET' } });
      assert.equal(response.status, 403, 'no rule covers /elsewhere');
      const covered = await fetch(`${server.url}/v1/forward-auth`, { headers: { 'x-original-uri': '/only/x', 'x-original-method': 'GET' } });
      assert.equal(covered.status, 401, 'covered, but no token');
    } finally {
      server.child.kill('SIGTERM');
      await exited(server.child);
    }
  });

  test('a bad TOKEND_FORWARD_AUTH_RULES stops start-up with one line naming it', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"rules": [{"path": "/a", "kinds": ["refresh"]}]}');
    const result = spawnSync(process.execPath, ['--import', 'tsx', TOKEND_MAIN, 'serve', '--port', '0'], { env: { ...process.env, ...env, TOKEND_FORWARD_AUTH_RULES: file }, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(result.status, 0);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /TOKEND_FORWARD_AUTH_RULES .*kinds has "refresh"/);
  });
});
