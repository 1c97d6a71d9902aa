import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { verifyServiceToken } from '../../examples/offline-verify.js';
import { ADMIN_TOKEN, ISSUER, adminRequest, basic, createClient, json, me, postForm, startHarness, type Client, type Harness } from '../helpers/harness.js';

// The clock starts at the real time so that jose, which judges `iat` by the real clock, agrees with tokend.
let h: Harness;
let partner: Client;
let partnerKey: MasterKey;
/** Every master key and service token the tests see: none may reach the logs. */
const secrets = new Set<string>();

interface MasterKey {
  id: string;
  key: string;
}

async function newMasterKey(target: Harness, appId: string): Promise<MasterKey> {
  const response = await adminRequest(target, 'POST', `/apps/${appId}/master-keys`);
  assert.equal(response.statusCode, 201, response.body);
  const created = json<MasterKey>(response);
  secrets.add(created.key);
  return created;
}

/** get_token exactly as the seed shows it: a POST with `Authorization: Token …` and no body. */
function getToken(key: string | null, options: { target?: Harness; url?: string; headers?: Record<string, string>; payload?: string } = {}) {
  return (options.target ?? h).app.inject({
    method: 'POST',
    url: options.url ?? '/api/auth/v1.0/get_token/',
    headers: { ...(key !== null && { authorization: `Token ${key}` }), ...options.headers },
    ...(options.payload !== undefined && { payload: options.payload }),
  });
}

interface ServiceToken {
  token: string;
  created_at: string;
  expires_at: string;
  deeplink: string;
}

async function mint(key: string, target: Harness = h): Promise<ServiceToken> {
  const response = await getToken(key, { target });
  assert.equal(response.statusCode, 201, response.body);
  const body = json<ServiceToken>(response);
  secrets.add(body.token);
  return body;
}

const revokeJson = (key: string, body: unknown) =>
  h.app.inject({ method: 'POST', url: '/api/auth/v1.0/revoke_token/', headers: { authorization: `Token ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const revokeForm = (key: string, form: Record<string, string>) => postForm(h, '/api/auth/v1.0/revoke_token', form, { authorization: `Token ${key}` });

/** Introspection with the operator token: sees every app's tokens. */
async function introspect(token: string, target: Harness = h): Promise<Record<string, unknown>> {
  const response = await postForm(target, '/oauth/introspect', { token }, { authorization: `Bearer ${ADMIN_TOKEN}` });
  assert.equal(response.statusCode, 200, response.body);
  return json(response);
}
const isActive = async (token: string, target: Harness = h): Promise<boolean> => (await introspect(token, target)).active === true;

function assertDetail(response: LightMyRequestResponse, status: number, why = ''): void {
  assert.equal(response.statusCode, status, `${why}: ${response.body}`);
  const body = json(response);
  assert.deepEqual(Object.keys(body), ['detail'], why);
  assert.equal(typeof body.detail, 'string', why);
  if (status === 401) assert.match(String(response.headers['www-authenticate']), /^Token\b/, why);
}

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const DAY = 86_400_000;

before(async () => {
  h = await startHarness({ startAt: Date.now() });
  partner = await createClient(h, { name: 'partner' });
  partnerKey = await newMasterKey(h, partner.id);
});
after(() => h.close());

describe('seed 000: get_token', () => {
  test('a master key in the Token header mints a 30-day service token, with and without the trailing slash', async () => {
    for (const url of ['/api/auth/v1.0/get_token/', '/api/auth/v1.0/get_token']) {
      const response = await getToken(partnerKey.key, { url });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = json<ServiceToken>(response);
      secrets.add(body.token);
      assert.deepEqual(Object.keys(body).sort(), ['created_at', 'deeplink', 'expires_at', 'token']);
      assert.match(body.token, /^tks_/);
      assert.match(body.created_at, ISO_SECONDS);
      assert.match(body.expires_at, ISO_SECONDS);
      assert.equal(Date.parse(body.expires_at) - Date.parse(body.created_at), 30 * DAY);
      assert.equal(body.deeplink, `tokend://auth?token=${encodeURIComponent(body.token)}`);
      const seen = await introspect(body.token);
      assert.equal(seen.active, true);
      assert.equal(seen.kind, 'service');
      assert.equal(seen.client_id, partner.clientId);
      assert.equal(seen.sub, partner.clientId);
    }
  });

  test('a JSON content type with an empty body, a JSON object, an empty form and the Bearer scheme all work', async () => {
    const variants: Array<{ headers: Record<string, string>; payload?: string }> = [
      { headers: { 'content-type': 'application/json' }, payload: '' },
      { headers: { 'content-type': 'application/json' }, payload: '{"note":"ignored"}' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' },
      { headers: { authorization: `Bearer ${partnerKey.key}` } },
    ];
    for (const variant of variants) {
      const response = await getToken(partnerKey.key, variant);
      assert.equal(response.statusCode, 201, `${JSON.stringify(variant.headers)}: ${response.body}`);
      secrets.add(json(response).token);
    }
  });

  test("the master key's last use is recorded off the request path and shown to the operator", async () => {
    const key = await newMasterKey(h, h.defaultApp.id);
    const listed = async () =>
      json(await adminRequest(h, 'GET', `/apps/${h.defaultApp.id}/master-keys`)).master_keys.find((k: { id: string }) => k.id === key.id);
    assert.equal((await listed()).last_used_at, null);
    await mint(key.key);
    assert.equal((await listed()).last_used_at, null, 'nothing is written while serving the request');
    await h.core.usage.flush();
    assert.equal((await listed()).last_used_at, new Date(h.clock.now()).toISOString());
  });

  test('each call mints a new token and the earlier ones stay valid', async () => {
    const tokens = [await mint(partnerKey.key), await mint(partnerKey.key), await mint(partnerKey.key)].map((t) => t.token);
    assert.equal(new Set(tokens).size, 3);
    for (const token of tokens) {
      const seen = json(await postForm(h, '/oauth/introspect', { token }, { authorization: basic(partner.clientId, partner.clientSecret) }));
      assert.equal(seen.active, true, 'the app sees its own service tokens');
    }
  });

  test('several master keys of one app mint at once; revoking one kills only its own tokens', async () => {
    const rotated = await newMasterKey(h, partner.id);
    const old = await mint(partnerKey.key);
    const fresh = await mint(rotated.key);
    assert.equal((await adminRequest(h, 'DELETE', `/master-keys/${rotated.id}`)).statusCode, 204);
    assert.equal(await isActive(fresh.token), false, 'the revoked key\'s token died with it');
    assert.equal(await isActive(old.token), true, 'the other key\'s token lives on');
    assertDetail(await getToken(rotated.key), 401, 'a revoked master key');
    assert.equal((await getToken(partnerKey.key)).statusCode, 201, 'the other key still mints');
  });

  test('a master key is read from the store once, then from memory, and its revocation takes effect at once', async () => {
    const key = await newMasterKey(h, partner.id);
    // Counts the real store's reads by hash; the store itself still answers them.
    const read = h.core.store.findMasterKeyByHash.bind(h.core.store);
    let reads = 0;
    h.core.store.findMasterKeyByHash = (hash) => {
      reads += 1;
      return read(hash);
    };
    try {
      for (let i = 0; i < 3; i++) await mint(key.key);
      assert.equal(reads, 1);
      assert.equal((await adminRequest(h, 'DELETE', `/master-keys/${key.id}`)).statusCode, 204);
      assertDetail(await getToken(key.key), 401, 'revoked a moment after it was used');
      assert.equal(reads, 2);
    } finally {
      h.core.store.findMasterKeyByHash = read;
    }
  });

  test('the deep link follows the app\'s deeplink_template', async () => {
    const app = await createClient(h, { name: 'deeplinked' });
    const key = await newMasterKey(h, app.id);
    const patched = await adminRequest(h, 'PATCH', `/apps/${app.id}`, { deeplink_template: 'eyrene://login?source=partner&token={token}' });
    assert.equal(patched.statusCode, 200, patched.body);
    const { token, deeplink } = await mint(key.key);
    assert.equal(deeplink, `eyrene://login?source=partner&token=${encodeURIComponent(token)}`);
  });

  test('a service token expires after 30 days', async () => {
    const other = await startHarness();
    try {
      const app = await createClient(other);
      const { token } = await mint((await newMasterKey(other, app.id)).key, other);
      other.clock.advance(30 * DAY - 1000);
      assert.equal(await isActive(token, other), true);
      other.clock.advance(1000);
      assert.equal(await isActive(token, other), false);
    } finally {
      await other.close();
    }
  });

  test('a service token is refused by /v1/me, which needs a user', async () => {
    const { token } = await mint(partnerKey.key);
    for (const scheme of ['Bearer', 'Token']) assert.equal((await me(h, token, scheme)).statusCode, 401);
  });
});

describe('seed 000: revoke_token', () => {
  test('revokes with the field named token or Token, as JSON or form', async () => {
    const calls = [
      (token: string) => revokeJson(partnerKey.key, { token }),
      (token: string) => revokeJson(partnerKey.key, { Token: token }),
      (token: string) => revokeForm(partnerKey.key, { token }),
      (token: string) => revokeForm(partnerKey.key, { Token: token }),
    ];
    const bystander = await mint(partnerKey.key);
    for (const call of calls) {
      const { token } = await mint(partnerKey.key);
      const response = await call(token);
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(json(response), { revoked: true });
      assert.equal(await isActive(token), false);
    }
    assert.equal(await isActive(bystander.token), true, 'other tokens of the key stay valid');
  });

  test("another app's token, a non-service token and an unknown token are left alone with the same answer", async () => {
    const rival = await createClient(h, { name: 'rival' });
    const rivalToken = (await mint((await newMasterKey(h, rival.id)).key)).token;
    const appToken = json(await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(partner.clientId, partner.clientSecret) })).access_token as string;
    secrets.add(appToken);
    for (const token of [rivalToken, appToken, 'tks_unknown', 'not a token at all']) {
      const response = await revokeJson(partnerKey.key, { token });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(json(response), { revoked: true });
    }
    assert.equal(await isActive(rivalToken), true);
    assert.equal(await isActive(appToken), true);
  });

  test('a missing, empty, doubled or non-string token field is 400 {detail}', async () => {
    const { token } = await mint(partnerKey.key);
    assertDetail(await revokeJson(partnerKey.key, {}), 400, 'no field');
    assertDetail(await revokeForm(partnerKey.key, { token: '' }), 400, 'empty');
    assertDetail(await revokeJson(partnerKey.key, { token, Token: token }), 400, 'both names');
    assertDetail(await revokeJson(partnerKey.key, { token: 42 }), 400, 'a number');
    assertDetail(await h.app.inject({ method: 'POST', url: '/api/auth/v1.0/revoke_token/', headers: { authorization: `Token ${partnerKey.key}` } }), 400, 'no body');
    assert.equal(await isActive(token), true);
  });
});

describe('seed 000: errors', () => {
  test('a missing, malformed or wrong master key is 401 {detail} with a Token challenge, on both endpoints', async () => {
    const { token } = await mint(partnerKey.key);
    const deleted = await createClient(h, { name: 'deleted' });
    const deletedKey = await newMasterKey(h, deleted.id);
    assert.equal((await adminRequest(h, 'DELETE', `/apps/${deleted.id}`)).statusCode, 204);
    const headers: Array<[string, Record<string, string>]> = [
      ['an empty header', { authorization: '' }],
      ['scheme only', { authorization: 'Token' }],
      ['Basic', { authorization: basic(partner.clientId, partner.clientSecret) }],
      ['unknown key', { authorization: 'Token tkm_0000000000000000000000000000000000' }],
      ['a service token', { authorization: `Token ${token}` }],
      ['the client secret', { authorization: `Token ${partner.clientSecret}` }],
      ['the operator token', { authorization: `Bearer ${ADMIN_TOKEN}` }],
      ['a key of a deleted app', { authorization: `Token ${deletedKey.key}` }],
    ];
    assertDetail(await getToken(null), 401, 'get_token, no Authorization header');
    assertDetail(await postForm(h, '/api/auth/v1.0/revoke_token/', { token }), 401, 'revoke_token, no Authorization header');
    for (const [why, header] of headers) {
      assertDetail(await getToken(null, { headers: header }), 401, `get_token, ${why}`);
      assertDetail(await postForm(h, '/api/auth/v1.0/revoke_token/', { token }, header), 401, `revoke_token, ${why}`);
    }
    assert.equal(await isActive(token), true);
  });

  test('malformed bodies are 400, 413 or 415 {detail}, never 500', async () => {
    const cases: Array<[number, string, string]> = [
      [400, 'application/json', '{"token": '],
      [400, 'application/json', '["tks_x"]'],
      [400, 'application/json', '"tks_x"'],
      [400, 'application/x-www-form-urlencoded', 'token=a&token=b'],
      [415, 'text/plain', 'token=a'],
      [413, 'application/json', JSON.stringify({ token: 'x'.repeat(70_000) })],
    ];
    for (const [status, type, payload] of cases) {
      for (const url of ['/api/auth/v1.0/get_token/', '/api/auth/v1.0/revoke_token/']) {
        if (url.includes('get_token') && status === 400 && payload.startsWith('token=')) continue; // get_token ignores its fields
        const response = await h.app.inject({ method: 'POST', url, headers: { authorization: `Token ${partnerKey.key}`, 'content-type': type }, payload });
        assertDetail(response, status, `${url} ${type} ${payload.slice(0, 20)}`);
      }
    }
  });
});

describe('seed 000: JWT service tokens, verified offline', () => {
  let jwtApp: Client;
  let jwtKey: MasterKey;
  let jwks: JSONWebKeySet;
  before(async () => {
    jwtApp = await createClient(h, { name: 'offline', service_token_format: 'jwt' });
    jwtKey = await newMasterKey(h, jwtApp.id);
    jwks = json(await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }));
  });

  test('an app with service_token_format jwt gets RFC 9068 tokens that verify against the JWKS alone', async () => {
    const issued = await mint(jwtKey.key);
    assert.equal(decodeProtectedHeader(issued.token).typ, 'at+jwt');
    const claims = await verifyServiceToken(issued.token, jwks, { issuer: ISSUER });
    assert.equal(claims.sub, jwtApp.clientId);
    assert.equal(claims.client_id, jwtApp.clientId);
    assert.equal(claims.aud, ISSUER);
    assert.equal(claims.exp, Date.parse(issued.expires_at) / 1000);
    assert.equal((await introspect(issued.token)).kind, 'service');
    await assert.rejects(verifyServiceToken(issued.token, jwks, { issuer: ISSUER, audience: 'https://elsewhere.example' }), 'another audience');
    await assert.rejects(verifyServiceToken(issued.token, jwks, { issuer: ISSUER, currentDate: new Date(Date.parse(issued.expires_at) + 120_000) }), 'past exp');
  });

  test('revocation reaches introspection at once, but a JWKS-only verifier until exp', async () => {
    const { token } = await mint(jwtKey.key);
    assert.deepEqual(json(await revokeJson(jwtKey.key, { token })), { revoked: true });
    assert.equal(await isActive(token), false);
    assert.equal((await verifyServiceToken(token, jwks, { issuer: ISSUER })).jti, decodeJwt(token).jti);
  });

  test('examples/offline-verify.ts runs from the command line with a saved JWKS', async () => {
    const { token } = await mint(jwtKey.key);
    const dir = mkdtempSync(join(tmpdir(), 'tokend-jwks-'));
    try {
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
      const run = promisify(execFile);
      const env = { ...process.env, TOKEND_ISSUER: ISSUER };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/offline-verify.ts', token, join(dir, 'jwks.json')], { env });
      assert.match(stdout, new RegExp(`^valid: app ${jwtApp.clientId}, expires `));
      await assert.rejects(run(process.execPath, ['--import', 'tsx', 'examples/offline-verify.ts', `${token}x`, join(dir, 'jwks.json')], { env }), 'a forged signature');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('seed 000: audit and logs', () => {
  test('issuance and revocation are audited with the master key as actor', async () => {
    const { token } = await mint(partnerKey.key);
    const tokenId = (await introspect(token)).jti;
    await revokeJson(partnerKey.key, { token });
    const response = await adminRequest(h, 'GET', `/audit?app_id=${partner.id}&limit=200`);
    assert.equal(response.statusCode, 200);
    const events = (json(response).events as Array<{ action: string; actor: string; token_id: string | null }>).filter((e) => e.token_id === tokenId);
    assert.deepEqual(events.map((e) => [e.action, e.actor]).sort(), [
      ['token.issued', `master-key:${partnerKey.id}`],
      ['token.revoked', `master-key:${partnerKey.id}`],
    ]);
  });

  test('no master key or service token reaches the logs', () => {
    assert.ok(h.logs.length > 0 && secrets.size > 10);
    const logs = h.logs.join('');
    for (const secret of secrets) assert.equal(logs.includes(secret), false, `${secret.slice(0, 8)}… is in the logs`);
  });
});
