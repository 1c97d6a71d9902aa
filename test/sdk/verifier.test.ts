import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { InvalidTokenError, TokenVerifier, UnavailableError, authorizeRequest, type TokenIdentity } from '../../sdk/index.js';
import { tokendFastify } from '../../sdk/fastify.js';
import { adminRequest, ISSUER, json, login, postForm, basic } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { ADMIN_TOKEN, jwtLogin, seedCast, startTokend, within, type Tokend } from './tokend.js';

/** The resource-server verifier against a real tokend on loopback: JWKS, introspection, the revocation feed. */

let t: Tokend;
let cast: Awaited<ReturnType<typeof seedCast>>;
let verifier: TokenVerifier;

before(async () => {
  t = await startTokend();
  cast = await seedCast(t.h);
  verifier = new TokenVerifier({ baseUrl: t.url, issuer: ISSUER, credentials: { operatorToken: ADMIN_TOKEN } });
  assert.equal(await verifier.ready(), true, 'the feed vouches once connected');
  // Tokens issued from here on are younger than the feed's epoch: local checks may vouch for them.
  t.h.clock.advance(6000);
});
after(async () => {
  verifier.close();
  await t.close();
});

const refusal = async (token: string, v = verifier): Promise<unknown> => {
  try {
    await v.verify(token);
    return null;
  } catch (error) {
    return error;
  }
};

describe('verifier: what it accepts', () => {
  test('a JWT issued inside the feed\'s epoch is checked locally, with its identity', async () => {
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    const identity = await verifier.verify(access_token);
    assert.equal(identity.checkedBy, 'jwt');
    assert.deepEqual([identity.kind, identity.userId, identity.clientId, identity.scopes], ['access', String(cast.alice.id), cast.jwtApp.clientId, ['assets:read']]);
  });

  test('an opaque token is introspected, and says its kind', async () => {
    const { access_token } = await login(t.h, cast.alice);
    const identity = await verifier.verify(access_token);
    assert.equal(identity.checkedBy, 'introspection');
    assert.equal(identity.kind, 'access');
    assert.equal(identity.userId, String(cast.alice.id));
  });

  test('garbage, a refresh token and a JWT signed by someone else are invalid_token', async () => {
    const { refresh_token } = await login(t.h, cast.alice);
    const forged = 'eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vcGUiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiIxIn0.c2ln';
    for (const token of ['nonsense', refresh_token, forged]) {
      const error = await refusal(token);
      assert.ok(error instanceof InvalidTokenError, `${token.slice(0, 8)}: ${String(error)}`);
      assert.equal(error.code, 'invalid_token');
    }
  });
});

describe('verifier: revocation', () => {
  test('a revoked JWT is refused within 1 s of the revocation\'s answer', async () => {
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.equal((await verifier.verify(access_token)).checkedBy, 'jwt', 'accepted locally before the revocation');
    const revoked = await postForm(t.h, '/oauth/revoke', { token: access_token }, { authorization: basic(cast.jwtApp.clientId, cast.jwtApp.clientSecret) });
    assert.equal(revoked.statusCode, 200);
    const elapsed = await within(1000, async () => (await refusal(access_token)) instanceof InvalidTokenError);
    console.log(`# revoked JWT refused by the SDK verifier after ${elapsed?.toFixed(1)} ms`);
    assert.ok(elapsed !== null, 'still accepted 1 s after the revocation');
  });

  test('ending a session refuses its JWTs; disabling a user sends that user\'s JWTs to introspection, which refuses them', async () => {
    const session = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    const sid = (await verifier.verify(session.access_token)).sessionId!;
    assert.equal((await adminRequest(t.h, 'DELETE', `/sessions/${sid}`)).statusCode < 300, true);
    assert.notEqual(await within(1000, async () => (await refusal(session.access_token)) instanceof InvalidTokenError), null);

    const bob = json<{ id: number }>(await adminRequest(t.h, 'POST', '/users', { username: 'bob', password: 'bob password 12' }));
    const bobs = await jwtLogin(t.h, { username: 'bob', password: 'bob password 12' }, cast.jwtApp);
    assert.equal((await verifier.verify(bobs.access_token)).checkedBy, 'jwt');
    assert.equal((await adminRequest(t.h, 'PATCH', `/users/${bob.id}`, { disabled: true })).statusCode, 200);
    assert.notEqual(await within(1000, async () => (await refusal(bobs.access_token)) instanceof InvalidTokenError), null);
  });

  test('a cached introspection answer dies with the revocation', async () => {
    const { access_token } = await login(t.h, cast.alice);
    await verifier.verify(access_token);
    await postForm(t.h, '/oauth/revoke', { token: access_token }, { authorization: basic(t.h.clientId, t.h.clientSecret) });
    assert.notEqual(await within(1000, async () => (await refusal(access_token)) instanceof InvalidTokenError), null);
  });
});

describe('verifier: when the feed is gone', () => {
  let proxy: TcpProxy;
  let cut: TokenVerifier;
  before(async () => {
    proxy = await startTcpProxy(Number(new URL(t.url).port));
    cut = new TokenVerifier({ baseUrl: `http://127.0.0.1:${proxy.port}`, issuer: ISSUER, credentials: { operatorToken: ADMIN_TOKEN } });
    assert.equal(await cut.ready(), true);
  });
  after(async () => {
    cut.close();
    await proxy.close();
  });

  test('it stops vouching when the feed is cut, and never fails open: unreachable tokend is UnavailableError', async () => {
    t.h.clock.advance(6000);
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.equal((await cut.verify(access_token)).checkedBy, 'jwt');
    await proxy.cut();
    const stopped = await within(5000, async () => !cut.vouched);
    console.log(`# the verifier stopped vouching ${stopped?.toFixed(0)} ms after its feed's connection was cut`);
    assert.ok(stopped !== null, 'still vouching 5 s after the feed was cut');
    const error = await refusal(access_token, cut);
    assert.ok(error instanceof UnavailableError, String(error));
  });

  test('a heartbeat older than the trust window ends local trust; JWTs then go to introspection', async () => {
    let skew = 0;
    const clock = { now: () => Date.now() + skew };
    const stale = new TokenVerifier({ baseUrl: t.url, issuer: ISSUER, credentials: { operatorToken: ADMIN_TOKEN }, clock });
    assert.equal(await stale.ready(), true);
    t.h.clock.advance(6000);
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.equal((await stale.verify(access_token)).checkedBy, 'jwt');
    // As if the stream had stalled for 800 ms: judged synchronously, before the next heartbeat can land.
    skew = 800;
    assert.equal(stale.vouched, false);
    stale.close();
    assert.equal((await stale.verify(access_token)).checkedBy, 'introspection');
  });

  test('with the feed back, it vouches again after a new epoch', async () => {
    await proxy.restore();
    assert.notEqual(await within(8000, async () => cut.vouched), null);
  });
});

describe('route rules', () => {
  test('authorizeRequest applies scopes, kinds and install tokens in the query', async () => {
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    const asked = (url: string, rule: Parameters<typeof authorizeRequest>[2], authorization?: string) =>
      authorizeRequest(verifier, { url, authorization }, rule).then((i: TokenIdentity) => i.kind, (e: { code: string }) => e.code);
    assert.equal(await asked('/a', { scopes: ['assets:read'] }, `Bearer ${access_token}`), 'access');
    assert.equal(await asked('/a', { scopes: ['assets:write'] }, `Bearer ${access_token}`), 'insufficient_scope');
    assert.equal(await asked('/a', { kinds: ['service'] }, `Bearer ${access_token}`), 'invalid_token');
    assert.equal(await asked(`/a?token=${access_token}`, { installTokensInQuery: true }), 'invalid_token');
    assert.equal(await asked(`/a?token=${access_token}`, {}), 'invalid_token');
  });

  test('the Fastify plugin guards each route by its config and hands the caller to the handler', async () => {
    const api = Fastify();
    await api.register(tokendFastify, { verifier });
    api.get('/open', { config: { tokend: false } }, async () => ({ open: true }));
    api.get('/assets', { config: { tokend: { scopes: ['assets:read'] } } }, async (request) => ({ user: request.tokend?.userId }));
    api.get('/write', { config: { tokend: { scopes: ['assets:write'] } } }, async () => ({}));
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    const auth = { authorization: `Bearer ${access_token}` };
    assert.equal((await api.inject({ url: '/open' })).statusCode, 200);
    const ok = await api.inject({ url: '/assets', headers: auth });
    assert.deepEqual([ok.statusCode, ok.json()], [200, { user: String(cast.alice.id) }]);
    const missing = await api.inject({ url: '/assets' });
    assert.equal(missing.statusCode, 401);
    assert.match(String(missing.headers['www-authenticate']), /error="invalid_token"/);
    const scope = await api.inject({ url: '/write', headers: auth });
    assert.equal(scope.statusCode, 403);
    assert.match(String(scope.headers['www-authenticate']), /error="insufficient_scope", scope="assets:write"/);
    await api.close();
  });
});

// Last: the rotation changes the key every later token is signed with.
describe('verifier: signing keys', () => {
  test('a token signed by a new key is refused while the JWKS cooldown runs, then found by one refetch', async () => {
    const bounded = new TokenVerifier({ baseUrl: t.url, issuer: ISSUER, credentials: { operatorToken: ADMIN_TOKEN }, revocationFeed: false, jwksCooldownMs: 2000 });
    const before = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    await bounded.verify(before.access_token);
    // Another algorithm cannot use the pre-published next key: a fresh kid signs at once (docs/tokens.md).
    const rotated = await t.h.app.inject({ method: 'POST', url: '/admin/v1/signing-keys/rotate', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify({ alg: 'EdDSA' }) });
    assert.ok(rotated.statusCode < 300, rotated.body);
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.ok((await refusal(access_token, bounded)) instanceof InvalidTokenError, 'the JWKS was just fetched: no refetch yet');
    const found = await within(4000, async () => (await refusal(access_token, bounded)) === null);
    assert.ok(found !== null, 'the new key was never fetched');
    bounded.close();
  });
});
