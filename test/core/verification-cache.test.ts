import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalBus } from '../../src/cluster/bus.js';
import type { CachedIdentity, RevocationEvent } from '../../src/cluster/events.js';
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

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`concurrent verifications of one token, on ${database}`, () => {
    let h: Harness;
    let user: { id: number; username: string; password: string };
    let reads = 0;

    before(async () => {
      h = await startHarness({ database });
      user = await createUser(h);
      // Counts the real store's reads by hash; the store itself still answers them.
      const read = h.core.store.findTokenByHash.bind(h.core.store);
      h.core.store.findTokenByHash = (hash) => {
        reads += 1;
        return read(hash);
      };
    });
    after(() => h.close());

    const fresh = async (kind: 'opaque' | 'jwt') => {
      if (kind === 'jwt') await adminRequest(h, 'PATCH', `/apps/${h.defaultApp.id}`, { access_token_format: 'jwt' });
      const { access_token } = await login(h, user);
      if (kind === 'jwt') await adminRequest(h, 'PATCH', `/apps/${h.defaultApp.id}`, { access_token_format: 'opaque' });
      h.core.cache.drop({ scope: 'all' });
      reads = 0;
      return access_token as string;
    };

    for (const kind of ['opaque', 'jwt'] as const) {
      test(`${kind}: when no entry holds the token, requests that come together share one store read`, async () => {
        const token = await fresh(kind);
        const answers = await Promise.all(Array.from({ length: 40 }, () => verifyToken(h.core, token)));
        assert.equal(reads, 1);
        assert.ok(answers.every((answer) => answer !== null && answer.token.id === answers[0]!.token.id));
        // The read filled the cache once it settled: the next request reads nothing.
        assert.notEqual(verifyToken(h.core, token), null);
        assert.equal(reads, 1);
      });
    }

    test('a request that comes after a revocation does not share a read begun before it', async () => {
      const token = await fresh('opaque');
      const first = verifyToken(h.core, token);
      h.core.cache.drop({ scope: 'user', id: user.id + 1000 }); // any revocation at all, while the read is under way
      const second = verifyToken(h.core, token);
      await Promise.all([first, second]);
      assert.equal(reads, 2);
    });

    test('a request that shares a read still refuses a token that expired since the read began', async () => {
      const token = await fresh('opaque');
      const first = verifyToken(h.core, token);
      h.clock.advance(2 * 24 * 3600 * 1000);
      const second = verifyToken(h.core, token);
      assert.notEqual(await first, null);
      assert.equal(await second, null);
      assert.equal(reads, 1);
    });

    test('a store read that fails fails every request that shared it, and the next request reads again', async () => {
      const token = await fresh('opaque');
      const read = h.core.store.findTokenByHash;
      h.core.store.findTokenByHash = async () => {
        reads += 1;
        throw new Error('the store is out of reach');
      };
      const answers = await Promise.allSettled([verifyToken(h.core, token), verifyToken(h.core, token)]);
      h.core.store.findTokenByHash = read;
      assert.deepEqual(answers.map((answer) => answer.status), ['rejected', 'rejected']);
      assert.equal(reads, 1);
      assert.notEqual(await verifyToken(h.core, token), null);
      assert.equal(reads, 2);
    });
  });
}

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

describe('revocations drop exactly the entries they touch', () => {
  /** SPEC §10's matching, restated: which cached tokens a revocation must drop (erring towards more). */
  const touches = (event: RevocationEvent, t: CachedIdentity): boolean => {
    switch (event.scope) {
      case 'token':
        return t.tokenId === event.id || t.parentId === event.id;
      case 'token-hash':
        return t.hash === event.hash;
      case 'session':
        return t.sessionId === event.id || t.parentId !== null;
      case 'user':
        return t.userId === event.id;
      case 'app':
        return t.appId === event.id;
      case 'master-key':
        return t.masterKeyId === event.id;
      case 'all':
        return true;
    }
  };

  test('500 random caches and events, against the rule above', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor(seed / 2 ** 16) % n; // the high bits: the low ones of this generator repeat quickly
    };
    const maybe = <T>(value: T): T | null => (random(3) === 0 ? null : value);
    for (let round = 0; round < 500; round++) {
      const clock = new ManualClock(0);
      const cache = new VerificationCache(clock, new LocalBus(), { maxEntries: 25, maxAgeMs: 60_000 });
      const held = new Map<string, CachedIdentity>();
      for (let i = 0; i < 50; i++) {
        const identity: CachedIdentity = {
          hash: `h${random(60)}`,
          tokenId: `t${random(45)}`,
          parentId: maybe(`t${random(45)}`),
          sessionId: maybe(`s${random(8)}`),
          userId: maybe(random(6)),
          appId: `a${random(3)}`,
          masterKeyId: maybe(`m${random(3)}`),
        };
        const token = { id: identity.tokenId, parentId: identity.parentId, sessionId: identity.sessionId, userId: identity.userId, masterKeyId: identity.masterKeyId, expiresAt: 120_000 };
        cache.set(identity.hash, { token, app: { id: identity.appId } } as unknown as Verified, cache.mark());
        held.delete(identity.hash);
        held.set(identity.hash, identity);
        if (held.size > 25) held.delete(held.keys().next().value!); // the cache's own bound: the oldest goes
      }
      const events: RevocationEvent[] = [
        { scope: 'token', id: `t${random(45)}` },
        { scope: 'token-hash', hash: `h${random(60)}` },
        { scope: 'session', id: `s${random(8)}` },
        { scope: 'user', id: random(6) },
        { scope: 'app', id: `a${random(3)}` },
        { scope: 'master-key', id: `m${random(3)}` },
      ];
      for (let e = 0; e < 3; e++) {
        const event = events[random(events.length)]!;
        cache.drop(event);
        for (const [hash, identity] of held) if (touches(event, identity)) held.delete(hash);
        for (let h = 0; h < 60; h++) assert.equal(cache.get(`h${h}`) !== null, held.has(`h${h}`), `round ${round}, ${JSON.stringify(event)}, h${h}`);
        assert.equal(cache.size, held.size);
      }
      // Every entry gone, one by one: no name may still hold a hash (a leak that would grow for as long as the node runs).
      for (let h = 0; h < 60; h++) cache.drop({ scope: 'token-hash', hash: `h${h}` });
      const names = (cache as unknown as { named: { scopes: Map<string, Map<unknown, unknown>> } }).named.scopes;
      assert.deepEqual([...names.values()].filter((ids) => ids.size > 0), [], `round ${round}`);
    }
  });
});
