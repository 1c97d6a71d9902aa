import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Introspector } from '../../sdk/server/introspection.js';
import { RevocationLedger, type FeedRevocation, type KnownFacts } from '../../sdk/server/revocations.js';

/*
 * The SDK's introspection cache against its own rule: a revocation from the
 * feed drops exactly the answers RevocationLedger.touches says it touches.
 * The cache is filled through its `fetch` option from a table of answers in
 * tokend's RFC 7662 shape: this tests the cache, not tokend (the resource
 * server and verifier suites run it against a real tokend).
 */

test('500 random caches and feed events: the answers dropped are exactly those the ledger rule touches', async () => {
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor(seed / 2 ** 16) % n;
  };
  const kinds = ['access', 'refresh', 'service', 'install', 'api'];
  for (let round = 0; round < 500; round++) {
    const answers = new Map<string, Record<string, unknown>>();
    const facts = new Map<string, KnownFacts>();
    for (let t = 0; t < 30; t++) {
      const token = `tok${t}`;
      if (random(5) === 0) {
        answers.set(token, { active: false });
        continue;
      }
      const fact: KnownFacts = { hash: '', jti: `j${random(20)}`, sid: random(3) === 0 ? null : `s${random(6)}`, sub: `u${random(5)}`, clientId: `c${random(3)}`, kind: kinds[random(kinds.length)]! };
      facts.set(token, fact);
      answers.set(token, { active: true, kind: fact.kind, client_id: fact.clientId, jti: fact.jti, sub: fact.sub, ...(fact.sid !== null && { session_id: fact.sid }), username: 'x', exp: 2_000_000_000 });
    }
    let asked = 0;
    const introspector = new Introspector({
      url: 'http://tokend.test/oauth/introspect',
      authorization: 'Basic x',
      clock: { now: () => 1_000 },
      vouchedCacheMs: 60_000,
      cacheMs: 60_000,
      maxEntries: 20,
      fetch: async (_input, init) => {
        asked += 1;
        const token = new URLSearchParams(String(init?.body)).get('token')!;
        return new Response(JSON.stringify(answers.get(token)), { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    // The hash is the cache's key; the table's token names stand in for it.
    const held = new Map<string, KnownFacts | null>();
    /** Asks as a resource server would; an answer not held is fetched and kept, the oldest going beyond 20 (a hit moves nothing). */
    const ask = async (token: string): Promise<boolean> => {
      const before = asked;
      await introspector.introspect(token, token, 1);
      const hit = asked === before;
      if (!hit) {
        held.set(token, facts.get(token) === undefined ? null : { ...facts.get(token)!, hash: token });
        if (held.size > 20) held.delete(held.keys().next().value!);
      }
      return hit;
    };
    for (let i = 0; i < 40; i++) await ask(`tok${random(30)}`);
    const events: FeedRevocation[] = [
      { type: 'token', jti: `j${random(20)}`, at: 0 },
      { type: 'token_hash', hash: `tok${random(30)}`, at: 0 },
      { type: 'session', sid: `s${random(6)}`, at: 0 },
      { type: 'user', sub: `u${random(5)}`, at: 0 },
      { type: 'client', client_id: `c${random(3)}`, at: 0 },
      { type: 'service_tokens', client_id: `c${random(3)}`, at: 0 },
      { type: 'all', at: 0 },
    ];
    for (let e = 0; e < 3; e++) {
      const event = events[random(events.length)]!;
      introspector.forget(event);
      for (const [token, fact] of held) if (fact !== null && RevocationLedger.touches(event, fact)) held.delete(token);
      for (const token of answers.keys()) {
        const expected = held.has(token);
        assert.equal(await ask(token), expected, `round ${round}, ${JSON.stringify(event)}, ${token}`);
      }
    }
    // Every active answer gone: no name may still hold a hash (a leak that would grow for as long as the server runs).
    introspector.forget({ type: 'all', at: 0 });
    assert.equal((introspector as unknown as { named: Map<string, unknown> }).named.size, 0, `round ${round}`);
  }
});
