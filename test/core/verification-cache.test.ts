import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalBus } from '../../src/cluster/bus.js';
import { ManualClock } from '../../src/core/clock.js';
import { VerificationCache } from '../../src/core/verification-cache.js';
import { verifyToken, type Verified } from '../../src/core/verification.js';
import { hashSecret } from '../../src/core/tokens.js';
import { adminRequest, createUser, login, me, postForm, startHarness, basic, type Harness } from '../helpers/harness.js';

describe('the verification cache', () => {
  let h: Harness;
  let user: { id: number; username: string; password: string };

  before(async () => {
    h = await startHarness();
    user = await createUser(h);
  });
  after(() => h.close());

  test('a repeat verification is answered from the cache, a revoked token never is', async () => {
    const { access_token } = await login(h, user);
    assert.equal((await me(h, access_token)).statusCode, 200);
    const hits = h.core.cache.hits;
    assert.equal((await me(h, access_token)).statusCode, 200);
    assert.equal(h.core.cache.hits, hits + 1);
    await postForm(h, '/oauth/revoke', { token: access_token }, { authorization: basic(h.clientId, h.clientSecret) });
    assert.equal((await me(h, access_token)).statusCode, 401);
  });

  test('every way of revoking drops the cached entry: session, user, app change, password', async () => {
    const cases: Array<[string, (token: string) => Promise<unknown>]> = [
      ['logout', (token) => h.app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${token}` } })],
      ['operator revokes the session', async (token) => adminRequest(h, 'DELETE', `/sessions/${(await verifyToken(h.core, token))!.token.sessionId}`)],
      ['password change', () => adminRequest(h, 'PATCH', `/users/${user.id}`, { password: 'a new password' })],
    ];
    for (const [why, revoke] of cases) {
      const { access_token } = await login(h, { username: user.username, password: why === 'password change' ? user.password : user.password });
      await me(h, access_token);
      await me(h, access_token);
      await revoke(access_token);
      assert.equal((await me(h, access_token)).statusCode, 401, why);
    }
    user.password = 'a new password';
  });

  test('a rotated refresh token is inactive on introspection at once, though it was verified a moment before', async () => {
    const pair = await login(h, user);
    const introspect = async () => JSON.parse((await postForm(h, '/oauth/introspect', { token: pair.refresh_token }, { authorization: basic(h.clientId, h.clientSecret) })).body).active;
    assert.equal(await introspect(), true);
    assert.equal(await introspect(), true);
    await postForm(h, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: h.clientId, client_secret: h.clientSecret });
    assert.equal(await introspect(), false);
  });
});

describe('the cache on its own', () => {
  const clock = new ManualClock(1_000_000);
  const verified = (id: string, expiresAt: number | null): Verified =>
    ({
      token: { id, hash: hashSecret(id), kind: 'access', format: 'opaque', appId: 'app', userId: 1, sessionId: 's', parentId: null, masterKeyId: null, installId: null, name: null, scopes: [], createdAt: 0, expiresAt, revokedAt: null, lastUsedAt: null, usedAt: null, successorId: null, successorSealed: null },
      app: { id: 'app' },
      user: null,
    }) as unknown as Verified;

  test('a store read that began before a revocation does not fill the cache after it', () => {
    const cache = new VerificationCache(clock, new LocalBus(), { maxEntries: 10, maxAgeMs: 60_000 });
    const mark = cache.mark();
    cache.drop({ scope: 'user', id: 99 }); // any revocation at all, while the read was in flight
    cache.set('h1', verified('t1', null), mark);
    assert.equal(cache.get('h1'), null);
    cache.set('h1', verified('t1', null), cache.mark());
    assert.notEqual(cache.get('h1'), null);
  });

  test('an entry never outlives its token, nor the maximum age', () => {
    const cache = new VerificationCache(clock, new LocalBus(), { maxEntries: 10, maxAgeMs: 5_000 });
    cache.set('short', verified('t1', clock.now() + 1_000), cache.mark());
    cache.set('long', verified('t2', null), cache.mark());
    clock.advance(1_000);
    assert.equal(cache.get('short'), null, 'the token expired');
    assert.notEqual(cache.get('long'), null);
    clock.advance(4_000);
    assert.equal(cache.get('long'), null, 'read again from the store after maxAgeMs');
  });

  test('the cache holds at most maxEntries, dropping the oldest', () => {
    const cache = new VerificationCache(clock, new LocalBus(), { maxEntries: 3, maxAgeMs: 60_000 });
    for (const id of ['a', 'b', 'c', 'd']) cache.set(id, verified(id, null), cache.mark());
    assert.equal(cache.size, 3);
    assert.equal(cache.get('a'), null);
    assert.notEqual(cache.get('d'), null);
  });
});
