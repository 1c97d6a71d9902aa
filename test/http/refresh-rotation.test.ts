import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse as Reply } from 'fastify';
import { sql } from 'kysely';
import {
  adminRequest,
  createClient,
  createUser,
  json,
  login,
  me,
  refresh,
  startHarness,
  type Harness,
} from '../helpers/harness.js';

/* The refresh_token grant (SPEC §4): single-use rotation, reuse detection, the grace window, scopes and expiry. */

type User = { id: number; username: string; password: string };
type Pair = { access_token: string; refresh_token: string; expires_in: number; token_type: string; scope?: string };

const DAY = 86_400_000;

/** Every token this file received, to prove none of them reaches the store in plaintext. */
const received = new Set<string>();

function pairOf(response: Reply): Pair {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const pair = json<Pair>(response);
  assert.equal(pair.token_type, 'Bearer');
  assert.equal(typeof pair.access_token, 'string');
  assert.match(pair.refresh_token, /^tkr_[0-9A-Za-z]{38}$/);
  received.add(pair.access_token).add(pair.refresh_token);
  return pair;
}

async function signIn(h: Harness, user: User, client: { clientId: string; clientSecret: string } = h, extra: Record<string, string> = {}): Promise<Pair> {
  const pair = await login(h, user, extra, client);
  received.add(pair.access_token).add(pair.refresh_token);
  return pair as Pair;
}

function assertInvalidGrant(response: Reply): void {
  assert.equal(response.statusCode, 400, response.body);
  assert.equal(json(response).error, 'invalid_grant');
}

async function assertDead(h: Harness, pair: Pair, client: { clientId: string; clientSecret: string } = h): Promise<void> {
  const answer = await me(h, pair.access_token);
  assert.equal(answer.statusCode, 401, answer.body);
  assert.match(String(answer.headers['www-authenticate']), /error="invalid_token"/);
  assertInvalidGrant(await refresh(h, pair.refresh_token, {}, client));
}

describe('refresh_token grant', () => {
  let h: Harness;
  let alice: User;

  before(async () => {
    h = await startHarness();
    alice = await createUser(h);
  });
  after(() => h.close());

  test('rotation returns a new pair and the old refresh token is single-use', async () => {
    const a = await signIn(h, alice);
    const b = pairOf(await refresh(h, a.refresh_token));
    assert.equal(b.expires_in, 7200);
    assert.match(b.access_token, /^tka_/);
    assert.notEqual(b.access_token, a.access_token);
    assert.notEqual(b.refresh_token, a.refresh_token);
    assert.equal((await me(h, b.access_token)).statusCode, 200);
    assertInvalidGrant(await refresh(h, a.refresh_token));
  });

  test('reusing a rotated refresh token revokes the session, including its newest tokens', async () => {
    const otherDevice = await signIn(h, alice);
    const a = await signIn(h, alice);
    const b = pairOf(await refresh(h, a.refresh_token));
    const c = pairOf(await refresh(h, b.refresh_token));

    const reuse = await refresh(h, a.refresh_token);
    assertInvalidGrant(reuse);
    await assertDead(h, c);
    assert.equal((await me(h, b.access_token)).statusCode, 401);
    // Another session of the same user is not touched.
    assert.equal((await me(h, otherDevice.access_token)).statusCode, 200);

    const audit = json(await adminRequest(h, 'GET', `/audit?action=token.refresh_reused&user_id=${alice.id}`)).events;
    assert.ok(audit.length >= 1);
  });

  /*
   * With SQLite and opaque tokens a request never leaves the microtask queue,
   * so injected requests run one after another. Signing a JWT is real async
   * work: every request then reads the unused token before any rotates it, and
   * only the store's conditional UPDATE can pick the winner.
   */
  for (const format of ['opaque', 'jwt'] as const) {
    test(`exactly one of 20 concurrent refreshes wins when there is no grace window (${format})`, async () => {
      const app = await createClient(h, { name: `race ${format}`, access_token_format: format });
      const a = await signIn(h, alice, app);
      const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(h, a.refresh_token, {}, app)));
      const wins = answers.filter((r) => r.statusCode === 200);
      assert.equal(wins.length, 1, answers.map((r) => r.statusCode).join(','));
      for (const lost of answers.filter((r) => r.statusCode !== 200)) assertInvalidGrant(lost);
      // SPEC §4: the losers presented an already-used token with no grace, which is reuse.
      await assertDead(h, pairOf(wins[0]!), app);
    });
  }

  for (const format of ['opaque', 'jwt'] as const) {
    test(`inside the grace window a replay of the immediate predecessor answers the very same pair (${format})`, async () => {
      const app = await createClient(h, { name: `grace ${format}`, refresh_reuse_grace_seconds: 30, access_token_format: format });
      const a = await signIn(h, alice, app);
      const first = await refresh(h, a.refresh_token, {}, app);
      const b = pairOf(first);
      if (format === 'jwt') assert.match(b.access_token, /^eyJ/);
      for (let i = 0; i < 3; i++) {
        h.clock.advance(9_000);
        const replay = await refresh(h, a.refresh_token, {}, app);
        assert.equal(replay.statusCode, 200, replay.body);
        assert.equal(replay.body, first.body);
        assert.equal(json(replay).access_token, b.access_token);
        assert.equal(json(replay).refresh_token, b.refresh_token);
      }
      assert.equal((await me(h, b.access_token)).statusCode, 200);

      const c = pairOf(await refresh(h, b.refresh_token, {}, app));
      const again = await refresh(h, b.refresh_token, {}, app);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(json(again).refresh_token, c.refresh_token);

      // A is now an older ancestor, not the predecessor of the live token: reuse.
      assertInvalidGrant(await refresh(h, a.refresh_token, {}, app));
      await assertDead(h, c, app);
    });
  }

  test('a replay after the grace window is reuse and revokes the session', async () => {
    const app = await createClient(h, { name: 'grace late', refresh_reuse_grace_seconds: 30 });
    const a = await signIn(h, alice, app);
    const b = pairOf(await refresh(h, a.refresh_token, {}, app));
    h.clock.advance(31_000);
    assertInvalidGrant(await refresh(h, a.refresh_token, {}, app));
    await assertDead(h, b, app);
  });

  for (const format of ['opaque', 'jwt'] as const) {
    test(`with a grace window, 20 concurrent refreshes all get the same pair, audited once as a refresh (${format})`, async () => {
      const app = await createClient(h, { name: `grace concurrent ${format}`, refresh_reuse_grace_seconds: 30, access_token_format: format });
      const a = await signIn(h, alice, app);
      const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(h, a.refresh_token, {}, app)));
      const pairs = answers.map(pairOf);
      assert.equal(new Set(answers.map((r) => r.body)).size, 1);
      assert.equal((await me(h, pairs[0]!.access_token)).statusCode, 200);
      const audited = async (action: string) => json(await adminRequest(h, 'GET', `/audit?action=${action}&app_id=${app.id}`)).events as unknown[];
      assert.equal((await audited('token.refreshed')).length, 1);
      assert.equal((await audited('token.refresh_replayed')).length, 19);
      pairOf(await refresh(h, pairs[0]!.refresh_token, {}, app));
    });
  }

  test('a refresh may narrow the scope; the refresh token keeps the original grant', async () => {
    const app = await createClient(h, { name: 'scoped', scopes: ['read', 'write'] });
    const a = await signIn(h, alice, app);
    assert.equal(a.scope, 'read write');

    const narrowed = pairOf(await refresh(h, a.refresh_token, { scope: 'read' }, app));
    assert.equal(narrowed.scope, 'read');
    assert.deepEqual(json(await me(h, narrowed.access_token)).token.scopes, ['read']);

    const widened = pairOf(await refresh(h, narrowed.refresh_token, {}, app));
    assert.equal(widened.scope, 'read write');
    assert.deepEqual(json(await me(h, widened.access_token)).token.scopes, ['read', 'write']);

    for (const scope of ['admin', 'read admin']) {
      const refused = await refresh(h, widened.refresh_token, { scope }, app);
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal(json(refused).error, 'invalid_scope');
    }
    // A refused request does not spend the refresh token.
    pairOf(await refresh(h, widened.refresh_token, {}, app));
  });

  test("a refresh token of one app presented by another is invalid_grant and leaves the session alone", async () => {
    const other = await createClient(h, { name: 'other app' });
    const a = await signIn(h, alice);
    assertInvalidGrant(await refresh(h, a.refresh_token, {}, other));
    assert.equal((await me(h, a.access_token)).statusCode, 200);
    pairOf(await refresh(h, a.refresh_token));
  });

  test('a refresh token with a broken checksum, or a token of another kind, is invalid_grant', async () => {
    const a = await signIn(h, alice);
    const last = a.refresh_token.slice(-1);
    const broken = a.refresh_token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    assertInvalidGrant(await refresh(h, broken));
    assertInvalidGrant(await refresh(h, a.access_token));
    assertInvalidGrant(await refresh(h, 'tkr_short'));
    pairOf(await refresh(h, a.refresh_token));
  });

  test("a disabled user's refresh token is invalid_grant, and stays so after re-enabling", async () => {
    const gina = await createUser(h, 'gina', 'gina password 1');
    const a = await signIn(h, gina);
    assert.equal((await adminRequest(h, 'PATCH', `/users/${gina.id}`, { disabled: true })).statusCode, 200);
    assertInvalidGrant(await refresh(h, a.refresh_token));
    assert.equal((await adminRequest(h, 'PATCH', `/users/${gina.id}`, { disabled: false })).statusCode, 200);
    await assertDead(h, a);
  });

  test('no token is ever stored, or logged, in plaintext', async () => {
    // A grace app stores a sealed successor pair: it must not reveal the pair either.
    const app = await createClient(h, { name: 'grace storage', refresh_reuse_grace_seconds: 60, access_token_format: 'jwt' });
    const a = await signIn(h, alice, app);
    const b = pairOf(await refresh(h, a.refresh_token, {}, app));
    pairOf(await refresh(h, b.refresh_token, {}, app));
    assert.ok(received.size > 40, `only ${received.size} tokens seen`);

    const db = (h.store as any).db;
    const rows: Record<string, unknown>[] = await db.selectFrom('tokens').selectAll().execute();
    assert.ok(rows.length > 40);
    assert.ok(rows.some((row) => row.successor_sealed !== null));
    const { rows: tables } = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db);
    for (const { name } of tables) {
      const all: Record<string, unknown>[] = await db.selectFrom(name).selectAll().execute();
      for (const row of all) {
        for (const [column, value] of Object.entries(row)) {
          const text = value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : String(value);
          for (const token of received) assert.equal(text.includes(token), false, `${name}.${column} holds a token in plaintext`);
        }
      }
    }
    assert.ok(h.logs.length > 0);
    const logs = h.logs.join('');
    for (const token of received) assert.equal(logs.includes(token), false, 'a token reached the logs');
  });
});

describe('refresh token and access token expiry', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('the access token dies after 7200 s and the refresh token after 14 days, by the clock', async () => {
    const user = await createUser(h, 'hana', 'hana password 1');
    const early = await signIn(h, user);
    const late = await signIn(h, user);

    h.clock.advance(7199_000);
    assert.equal((await me(h, early.access_token)).statusCode, 200);
    h.clock.advance(1000);
    const expired = await me(h, early.access_token);
    assert.equal(expired.statusCode, 401);
    assert.match(String(expired.headers['www-authenticate']), /error="invalid_token"/);

    h.clock.advance(14 * DAY - 7200_000 - 1000);
    pairOf(await refresh(h, early.refresh_token));
    h.clock.advance(1000);
    assertInvalidGrant(await refresh(h, late.refresh_token));
  });
});
