import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ManualClock } from '../../src/core/clock.js';
import { startPair, type Node, type Pair } from '../helpers/cluster.js';
import { ADMIN_TOKEN, json } from '../helpers/harness.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

/*
 * SPEC §10 on two nodes in one process: each has its own Postgres pool on one
 * shared database and its own Redis connections. Node B reaches Redis through
 * a proxy the test can cut.
 */

const form = (body: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', payload: new URLSearchParams(body).toString() });

describe('two nodes, one Postgres database, one Redis', () => {
  let pair: Pair;
  let proxy: TcpProxy;
  let a: Node;
  let b: Node;
  let client: { clientId: string; clientSecret: string };
  let jwtClient: { clientId: string; clientSecret: string };
  let clock: ManualClock;
  const user = { username: 'alice', password: 'alice-password' };

  before(async () => {
    pair = await startPair({ perUser: 4 });
    ({ a, b, proxy, clock } = pair);
    const made = json(await pair.admin('/apps', { name: 'mobile' }));
    client = { clientId: made.client_id, clientSecret: made.client_secret };
    const madeJwt = json(await pair.admin('/apps', { name: 'jwt', access_token_format: 'jwt' }));
    jwtClient = { clientId: madeJwt.client_id, clientSecret: madeJwt.client_secret };
    assert.equal((await pair.admin('/users', user)).statusCode, 201);
    assert.equal((await pair.admin('/users', { username: 'mallory-target', password: 'right-password' })).statusCode, 201);
  });
  after(async () => {
    await pair?.close();
  });

  const login = async (node: Node, as = client) => {
    const { 'content-type': type, payload } = form({ grant_type: 'password', ...user, client_id: as.clientId, client_secret: as.clientSecret });
    const response = await node.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type }, payload });
    assert.equal(response.statusCode, 200, response.body);
    return json<{ access_token: string; refresh_token: string }>(response);
  };
  const me = (node: Node, token: string) => node.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
  const revoke = (node: Node, token: string, as = client) => {
    const { 'content-type': type, payload } = form({ token, client_id: as.clientId, client_secret: as.clientSecret });
    return node.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { 'content-type': type }, payload });
  };
  /** A loaded CI machine can stall a node's heartbeat past its trust window: wait that out before asserting cache hits. */
  const trusted = async (node: Node) => {
    const start = performance.now();
    while (!node.bus.trusted && performance.now() - start < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  /** Milliseconds until `node` refuses `token`, polling every 5 ms, up to 3 s. */
  const refusedAfter = async (node: Node, token: string, since: number): Promise<number> => {
    while (performance.now() - since < 3_000) {
      if ((await me(node, token)).statusCode === 401) return performance.now() - since;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return Number.POSITIVE_INFINITY;
  };

  for (const [format, as] of [['opaque', () => client], ['JWT', () => jwtClient]] as const) {
    test(`a ${format} token cached on node B is refused there within 1 s of its revocation on node A`, async () => {
      const { access_token } = await login(a, as());
      await trusted(b);
      assert.equal((await me(b, access_token)).statusCode, 200);
      const hits = b.core.cache.hits;
      assert.equal((await me(b, access_token)).statusCode, 200);
      assert.equal(b.core.cache.hits, hits + 1, 'the second verification on B came from its cache');
      const start = performance.now();
      assert.equal((await revoke(a, access_token, as())).statusCode, 200);
      const lag = await refusedAfter(b, access_token, start);
      console.log(`revocation of a ${format} token on A refused on B after ${lag.toFixed(1)} ms (heartbeat round trip p50 ${median(b.lags).toFixed(2)} ms)`);
      assert.ok(lag < 1_000, `refused after ${lag} ms`);
    });
  }

  test('a node that loses Redis stops trusting its cache within 1 s, and trusts it again when Redis is back', async () => {
    const { access_token } = await login(a);
    await trusted(b);
    await me(b, access_token);
    assert.equal((await me(b, access_token)).statusCode, 200);
    await proxy.cut();
    const start = performance.now();
    assert.equal((await revoke(a, access_token)).statusCode, 200, 'A revokes; B cannot hear it');
    const lag = await refusedAfter(b, access_token, start);
    console.log(`with Redis cut, B refused the revoked token after ${lag.toFixed(1)} ms by reading the store`);
    assert.ok(lag < 1_000, `refused after ${lag} ms`);
    assert.equal(b.bus.trusted, false);
    assert.equal(a.bus.trusted, true, 'A still has Redis');

    const fresh = await login(a);
    const misses = b.core.cache.misses;
    const hitsWhileCut = b.core.cache.hits;
    await me(b, fresh.access_token);
    await me(b, fresh.access_token);
    assert.equal(b.core.cache.hits, hitsWhileCut, 'nothing is answered from the cache while delivery cannot be proven');

    await proxy.restore();
    const restoredAt = performance.now();
    while (!b.bus.trusted && performance.now() - restoredAt < 5_000) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(b.bus.trusted, true, 'B trusts again once its heartbeat comes back');
    console.log(`B trusted its cache again ${(performance.now() - restoredAt).toFixed(0)} ms after Redis came back`);
    await trusted(b);
    await me(b, fresh.access_token);
    const hits = b.core.cache.hits;
    assert.equal((await me(b, fresh.access_token)).statusCode, 200);
    assert.equal(b.core.cache.hits, hits + 1);
    assert.ok(b.core.cache.misses > misses);
  });

  test('login limits are shared: four failures spread over both nodes lock the username on both', async () => {
    const attempt = (node: Node, password: string) => {
      const { 'content-type': type, payload } = form({ grant_type: 'password', username: 'mallory-target', password, client_id: client.clientId, client_secret: client.clientSecret });
      return node.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type }, payload });
    };
    for (const node of [a, b, a, b]) assert.equal((await attempt(node, 'guess')).statusCode, 400);
    for (const node of [a, b]) {
      const locked = await attempt(node, 'right-password');
      assert.equal(locked.statusCode, 429, 'even the right password waits out the lock');
      assert.ok(Number(locked.headers['retry-after']) > 0);
    }
  });

  test('after a key rotation on node A, node B signs with the new key within 30 s, and its JWKS shows it', async () => {
    const rotated = json(await pair.admin('/signing-keys/rotate', {}));
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    assert.equal(kidOf((await login(a, jwtClient)).access_token), rotated.kid);
    assert.notEqual(kidOf((await login(b, jwtClient)).access_token), rotated.kid, 'B still holds its copy of the keys');
    clock.advance(30_000);
    await login(b, jwtClient); // starts B's background re-read
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(kidOf((await login(b, jwtClient)).access_token), rotated.kid);
  });

  // With Basic, B also remembers the header's digest as authenticated: the rotation must end that too.
  for (const method of ['client_secret_post', 'client_secret_basic'] as const) {
    test(`a client secret rotated on node A is refused by node B at once, though B had the app cached (${method})`, async () => {
      const made = json(await pair.admin('/apps', { name: 'rotating' }));
      const grant = (node: Node, secret: string) => {
        if (method === 'client_secret_basic') {
          const { 'content-type': type, payload } = form({ grant_type: 'client_credentials' });
          const authorization = `Basic ${Buffer.from(`${made.client_id}:${secret}`).toString('base64')}`;
          return node.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type, authorization }, payload });
        }
        const { 'content-type': type, payload } = form({ grant_type: 'client_credentials', client_id: made.client_id, client_secret: secret });
        return node.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type }, payload });
      };
      await trusted(b);
      assert.equal((await grant(b, made.client_secret)).statusCode, 200, 'B now holds the app in its cache');
      assert.equal((await grant(b, made.client_secret)).statusCode, 200, 'and answers a repeat from it');
      const rotated = json(await pair.admin(`/apps/${made.id}/secret`, {}));
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = (await grant(b, made.client_secret)).statusCode === 401;
        if (!refused) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(refused, 'the old secret is refused on B');
      assert.equal((await grant(b, rotated.client_secret)).statusCode, 200);
      assert.equal((await grant(b, made.client_secret)).statusCode, 401, 'and stays refused');
    });
  }

  test('a master key revoked on node A is refused by node B at once, though B had it cached', async () => {
    const made = json(await pair.admin('/apps', { name: 'partner' }));
    const key = json(await pair.admin(`/apps/${made.id}/master-keys`, {}));
    const getToken = (node: Node) => node.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${key.key}` } });
    await trusted(b);
    assert.equal((await getToken(b)).statusCode, 201, 'B now holds the key in its cache');
    const revoked = await a.app.inject({ method: 'DELETE', url: `/admin/v1/master-keys/${key.id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(revoked.statusCode, 204);
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = (await getToken(b)).statusCode === 401;
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(refused, 'the revoked key is refused on B');
  });

  test('of 50 concurrent refreshes of one token split across the two nodes, exactly one wins', async () => {
    const { refresh_token } = await login(a);
    const refresh = (node: Node) => {
      const { 'content-type': type, payload } = form({ grant_type: 'refresh_token', refresh_token, client_id: client.clientId, client_secret: client.clientSecret });
      return node.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type }, payload });
    };
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => refresh(i % 2 === 0 ? a : b)));
    assert.equal(answers.filter((r) => r.statusCode === 200).length, 1);
    assert.ok(answers.every((r) => r.statusCode === 200 || json(r).error === 'invalid_grant'));
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
