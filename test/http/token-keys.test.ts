import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Token } from '../../src/core/model.js';
import { digestOfKey, hashSecret, mintSecret, mintTokenSecret, parseSecret, tokenKey } from '../../src/core/tokens.js';
import { basic, createUser, json, login, me, postForm, refresh, startHarness, type Harness } from '../helpers/harness.js';

/*
 * A token's store key begins with its locator (the millisecond of issue), so
 * that tokens issued together are stored together; tokens issued before
 * tokens had locators are stored under their SHA-256 alone and must go on
 * working through every door that takes a token. On every real database.
 */

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`token store keys (${database})`, () => {
    let h: Harness;
    let alice: { username: string; password: string };
    before(async () => {
      h = await startHarness({ database });
      alice = await createUser(h);
    });
    after(() => h.close());

    const auth = () => ({ authorization: basic(h.clientId, h.clientSecret) });
    const clientCredentials = async (): Promise<string> => {
      const response = await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, auth());
      assert.equal(response.statusCode, 200, response.body);
      return json(response).access_token;
    };
    const introspect = async (token: string) => json(await postForm(h, '/oauth/introspect', { token }, auth()));

    /** A copy of an issued token's record under a fully random secret, stored as tokend stored every token before locators. */
    async function legacyCopy(issued: string, kind: 'access' | 'refresh'): Promise<{ secret: string; record: Token }> {
      const record = await h.store.findTokenByHash(tokenKey(issued));
      assert.ok(record);
      const secret = mintSecret(kind);
      const copy = { ...record, id: randomUUID(), hash: hashSecret(secret) };
      await h.store.insertTokens([copy]);
      return { secret, record: copy };
    }

    test('an issued token is stored under its locator and SHA-256, not under the SHA-256 alone', async () => {
      const token = await clientCredentials();
      assert.equal(parseSecret(token), 'access');
      const key = tokenKey(token);
      assert.equal(key, token.slice(4, 9) + hashSecret(token));
      assert.equal(digestOfKey(key), hashSecret(token));
      assert.equal((await h.store.findTokenByHash(key))?.hash, key);
      assert.equal(await h.store.findTokenByHash(hashSecret(token)), null);
    });

    test('tokens issued later sort after the earlier ones by store key, whatever their random parts', async () => {
      const keys: string[] = [];
      for (const step of [0, 0, 1, 7, 1000, 60_000, 3_600_000]) {
        h.clock.advance(step);
        keys.push(tokenKey(await clientCredentials()));
      }
      // Two tokens of the same millisecond share a locator and sort by their hashes.
      const byTime = keys.map((key) => key.slice(0, 5));
      assert.deepEqual(byTime, [...byTime].sort());
      assert.equal(new Set(byTime).size, byTime.length - 1);
      assert.ok(byTime[0]! < byTime.at(-1)!);
    });

    test('a token stored under its SHA-256 alone still verifies, introspects, and is revoked', async () => {
      const { secret } = await legacyCopy((await login(h, alice)).access_token, 'access');
      assert.equal((await me(h, secret)).statusCode, 200);
      assert.equal((await introspect(secret)).active, true);
      const revoked = await postForm(h, '/oauth/revoke', { token: secret }, auth());
      assert.equal(revoked.statusCode, 200, revoked.body);
      assert.equal((await me(h, secret)).statusCode, 401);
      assert.equal((await introspect(secret)).active, false);
    });

    test('a refresh token stored under its SHA-256 alone rotates once into tokens with locators', async () => {
      const tokens = await login(h, alice);
      const { secret } = await legacyCopy(tokens.refresh_token, 'refresh');
      const rotated = await refresh(h, secret);
      assert.equal(rotated.statusCode, 200, rotated.body);
      const next = json(rotated);
      for (const token of [next.access_token, next.refresh_token]) assert.ok(await h.store.findTokenByHash(tokenKey(token)));
      assert.equal((await me(h, next.access_token)).statusCode, 200);
      // Spent: with the default grace of 0, a second use is reuse, refused, and it ends the session.
      const replay = await refresh(h, secret);
      assert.equal(replay.statusCode, 400, replay.body);
      assert.equal(json(replay).error, 'invalid_grant');
      assert.equal((await me(h, next.access_token)).statusCode, 401);
    });

    test('a leaked token stored under its SHA-256 alone is revoked by the report', async () => {
      const { secret } = await legacyCopy(await clientCredentials(), 'access');
      assert.equal((await introspect(secret)).active, true);
      const reported = await h.app.inject({ method: 'POST', url: '/v1/leaked-tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: secret }) });
      assert.ok(reported.statusCode < 300, reported.body);
      assert.equal((await introspect(secret)).active, false);
    });

    test('an unknown token of the right shape is refused, whichever key it would have', async () => {
      for (const token of [mintSecret('access'), mintTokenSecret('access', h.clock.now())]) {
        assert.equal((await me(h, token)).statusCode, 401);
        assert.equal((await introspect(token)).active, false);
      }
    });
  });
}
