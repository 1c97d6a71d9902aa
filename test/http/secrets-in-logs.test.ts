import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exited, startServer, type Running } from '../helpers/serve.js';

/**
 * Issue 5 §6: one real `tokend serve` at the most verbose log level, every door
 * driven through its happy path and its failures, then every secret the test
 * handed over or was handed back is searched for in all the process printed.
 */
const ADMIN_TOKEN = `secret-operator-${'z'.repeat(20)}-${process.pid}`;
const PASSWORD = 'Pa55-word-that-must-not-leak-😀-one';
const NEW_PASSWORD = 'Second-password-that-must-not-leak-two';
const WRONG_PASSWORD = 'Wrong-guess-that-must-not-leak-three';

/** Everything secret this run saw, with where it came from (for the failure message). */
const secrets = new Map<string, string>();
const keep = (what: string, value: unknown): string => {
  assert.equal(typeof value, 'string', `${what} is missing`);
  secrets.set(value as string, what);
  return value as string;
};

let server: Running;
let dir: string;

async function call(method: string, path: string, options: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string>; body?: string } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined && { body }) });
  const text = await response.text();
  let parsed: any = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not every answer is JSON (a QR code, an empty 204)
  }
  return { status: response.status, body: parsed, text };
}

const admin = (method: string, path: string, json?: unknown) =>
  call(method, `/admin/v1${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, ...(json !== undefined && { json }) });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('a full run of every door leaves no secret in the server output', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokend-logs-'));
    server = await startServer({
      env: {
        TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`,
        TOKEND_ADMIN_TOKEN: ADMIN_TOKEN,
        TOKEND_LOG_LEVEL: 'trace',
        TOKEND_ENV: 'development',
        TOKEND_REDIS_URL: '',
      },
    });
  });

  after(async () => {
    server.child.kill('SIGTERM');
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every flow, then a search of the output for every secret', async () => {
    // The default app's secret is printed once at first start, by design (SPEC §3); it must not appear again.
    const banner = /client_secret: (\S+)/.exec(server.output());
    assert.ok(banner !== null, 'the first start prints the default app');
    const defaultSecret = banner[1]!;

    // Operator: an app, its secret rotated, a master key, a user, a password change, an API token.
    const created = await admin('POST', '/apps', { name: 'partner', access_token_format: 'opaque' });
    assert.equal(created.status, 201);
    keep('first client secret', created.body.client_secret);
    const rotated = await admin('POST', `/apps/${created.body.id}/secret`);
    assert.equal(rotated.status, 200, rotated.text);
    const client = { id: created.body.client_id as string, secret: keep('rotated client secret', rotated.body.client_secret) };
    const masterKey = await admin('POST', `/apps/${created.body.id}/master-keys`);
    assert.equal(masterKey.status, 201);
    const key = keep('master key', masterKey.body.key);
    const user = await admin('POST', '/users', { username: 'leaky', password: keep('password', PASSWORD) });
    assert.equal(user.status, 201);
    const adminApiToken = await admin('POST', `/users/${user.body.id}/api-tokens`, { app_id: created.body.id, name: 'ci' });
    assert.equal(adminApiToken.status, 201);
    keep('operator-made API token', adminApiToken.body.token);
    keep('operator token', ADMIN_TOKEN);

    // OAuth: password grant (form + Basic, and seed 003's JSON body), refresh, reuse, client credentials, introspect, revoke.
    const auth = { authorization: basic(client.id, client.secret) };
    const grant = await call('POST', '/oauth/token', { headers: auth, form: { grant_type: 'password', username: 'leaky', password: PASSWORD, device_info: 'Pixel' } });
    assert.equal(grant.status, 200, grant.text);
    const access = keep('access token', grant.body.access_token);
    const refreshToken = keep('refresh token', grant.body.refresh_token);
    const seed003 = await call('POST', '/oauth/token', {
      json: { client_id: client.id, client_secret: client.secret, username: 'leaky', password: PASSWORD, grant_type: 'password' },
    });
    assert.equal(seed003.status, 200, seed003.text);
    // The first session dies below (refresh reuse); the seed 003 session lives on for the doors that follow.
    const live = keep('seed 003 access token', seed003.body.access_token);
    keep('seed 003 refresh token', seed003.body.refresh_token);
    const rotatedPair = await call('POST', '/oauth/token', { headers: auth, form: { grant_type: 'refresh_token', refresh_token: refreshToken } });
    assert.equal(rotatedPair.status, 200);
    keep('rotated access token', rotatedPair.body.access_token);
    keep('rotated refresh token', rotatedPair.body.refresh_token);
    const reuse = await call('POST', '/oauth/token', { headers: auth, form: { grant_type: 'refresh_token', refresh_token: refreshToken } });
    assert.equal(reuse.status, 400, 'a reused refresh token is refused');
    const appToken = await call('POST', '/oauth/token', { headers: auth, form: { grant_type: 'client_credentials' } });
    assert.equal(appToken.status, 200);
    const appAccess = keep('client credentials token', appToken.body.access_token);
    assert.equal((await call('POST', '/oauth/introspect', { headers: auth, form: { token: live } })).body.active, true);
    assert.equal((await call('POST', '/oauth/revoke', { headers: auth, form: { token: appAccess } })).status, 200);

    // Seed 000: master-key service tokens.
    const service = await call('POST', '/api/auth/v1.0/get_token/', { headers: { authorization: `Token ${key}` } });
    assert.equal(service.status, 201);
    const serviceToken = keep('service token', service.body.token);
    assert.equal((await call('POST', '/api/auth/v1.0/revoke_token/', { headers: { authorization: `Token ${key}` }, json: { Token: serviceToken } })).status, 200);

    // Seed 001: JSON:API login, refresh, logout.
    const jsonApi = await call('POST', '/api/auth/v1/access_tokens', { json: { data: { type: 'AuthenticationTokens', attributes: { username: 'leaky', password: PASSWORD } } } });
    assert.equal(jsonApi.status, 201, jsonApi.text);
    const attributes = jsonApi.body.data[0].attributes;
    keep('JSON:API JWT', attributes.access_token);
    const renewed = await call('POST', '/api/auth/v1/access_tokens', { json: { grant_type: 'refresh_token', refresh_token: keep('JSON:API refresh token', attributes.refresh_token) } });
    assert.equal(renewed.status, 201);
    keep('JSON:API renewed JWT', renewed.body.data[0].attributes.access_token);
    keep('JSON:API renewed refresh token', renewed.body.data[0].attributes.refresh_token);

    // Seed 002: Token scheme, API tokens, install tokens in the header and the query.
    const apiToken = await call('POST', '/v1/api-tokens', { headers: { authorization: `Token ${live}` }, json: { name: 'script' } });
    assert.equal(apiToken.status, 201, apiToken.text);
    const personal = keep('API token', apiToken.body.token);
    const install = await call('GET', `/v3/users/token?app_key=${client.id}&installid=install-1&qr=svg`, { headers: { authorization: `Token ${personal}` } });
    assert.equal(install.status, 200, install.text);
    const installToken = keep('install token', install.body.token);
    assert.equal((await call('GET', `/v1/me?installid=install-1&token=${installToken}`)).status, 200);
    assert.equal((await call('GET', `/v1/me?installid=other&token=${installToken}`)).status, 401, 'a foreign install id is refused');
    assert.equal((await call('GET', `/v1/me?token=${live}`)).status, 401, 'an access token is refused in the URL');

    // Seed 004: the password in the query string, in a form, and with debug on (development).
    const device = await call('POST', `/v1/oauth/?username=leaky&password=${encodeURIComponent(PASSWORD)}&device-info=phone&debug=1`);
    assert.equal(device.status, 200, device.text);
    keep('device token', device.body.data.access_token);
    const deviceForm = await call('POST', '/v1/oauth/', { form: { username: 'leaky', password: PASSWORD, debug: '1' } });
    assert.equal(deviceForm.status, 200);
    keep('device form token', deviceForm.body.data.access_token);

    // Failures at every door, each carrying a secret the server must not echo into its logs.
    await call('POST', '/oauth/token', { headers: auth, form: { grant_type: 'password', username: 'leaky', password: keep('wrong password', WRONG_PASSWORD) } });
    await call('POST', '/api/auth/v1/access_tokens', { json: { username: 'leaky', password: WRONG_PASSWORD } });
    await call('POST', `/v1/oauth/?username=leaky&password=${encodeURIComponent(WRONG_PASSWORD)}`);
    await call('POST', '/oauth/token', { headers: { authorization: basic(client.id, `${client.secret}x`) }, form: { grant_type: 'client_credentials' } });
    await call('POST', '/oauth/token', { body: `{"grant_type":"password","username":"leaky","password":"${WRONG_PASSWORD}",` });
    await call('POST', '/oauth/token', { form: { grant_type: 'password', password: PASSWORD }, headers: {} });
    await call('POST', `/oauth/token?password=${encodeURIComponent(PASSWORD)}&password=${encodeURIComponent(PASSWORD)}`);
    await call('POST', '/api/auth/v1/access_tokens', { body: `{"username":"leaky","password":"${PASSWORD}"` });
    await call('POST', '/api/auth/v1.0/get_token/', { headers: { authorization: `Token ${key}0` } });
    await call('GET', '/v1/me', { headers: { authorization: `Bearer ${access}x` } });
    await call('GET', '/admin/v1/apps', { headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
    await call('POST', '/v1/leaked-tokens', { json: { token: personal } });
    assert.equal((await call('GET', '/v1/me', { headers: { authorization: `Token ${personal}` } })).status, 401, 'the reported token is dead');

    // The password change ends the user's other sessions; the operator's copy of the new password is a secret too.
    assert.equal((await admin('PATCH', `/users/${user.body.id}`, { password: keep('new password', NEW_PASSWORD) })).status, 200);
    await admin('DELETE', `/apps/${created.body.id}`);

    // Let the last log lines reach the pipe.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const output = server.output();
    if (process.env.DUMP_LOGS) console.log(output);
    assert.equal(output.split(defaultSecret).length - 1, 1, "the default app's secret is printed once, in the first-start banner");

    const leaks: string[] = [];
    for (const [secret, what] of secrets) {
      // Opaque tokens carry a public prefix: search the secret part, and its URL-encoded and JSON-escaped forms.
      const forms = new Set([secret, secret.replace(/^tk[a-z]_/, ''), encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
      for (const form of forms) if (form.length >= 12 && output.includes(form)) leaks.push(what);
    }
    assert.deepEqual(leaks, [], `secrets in the server output: ${leaks.join(', ')}`);
    assert.ok(output.includes('/v1/oauth/?username=%5Bredacted%5D&password=%5Bredacted%5D'), 'the trace-level request log was captured');
    assert.ok(secrets.size >= 24, `the run handled ${secrets.size} secrets`);
  });
});
