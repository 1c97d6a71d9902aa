import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Session, Token } from '../../src/core/model.js';
import { Sweeper, type SweepEvent, type SweeperOptions } from '../../src/core/sweeper.js';
import { tokenKey, type TokenKind } from '../../src/core/tokens.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { createUser, json, login, me, refresh, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { newSession, newToken, tempSqliteStore } from './fixtures.js';

/* The background sweep of long-expired tokens (issue 4, item 6), on every real database. */

const NOW = Date.UTC(2026, 10, 1, 12);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Where the default retention (one day) draws the line at NOW. */
const CUTOFF = NOW - DAY;

interface TestDatabase {
  store: KyselyStore;
  /** A second store instance on the same database, as another node would hold. */
  another(): KyselyStore;
  drop(): Promise<void>;
}

const DATABASES: Record<'sqlite' | 'postgres', () => Promise<TestDatabase>> = {
  async sqlite() {
    const { store, path, close } = await tempSqliteStore();
    return { store, another: () => openSqliteStore(path), drop: close };
  },
  async postgres() {
    const database = await createTestDatabase();
    const store = openPostgresStore(database.url);
    await store.migrate();
    return {
      store,
      another: () => openPostgresStore(database.url),
      drop: async () => {
        await store.close();
        await database.drop();
      },
    };
  },
};

/** A token of the test's app and user, created 30 days ago, expiring at `expiresAt`. */
const token = (kind: TokenKind, expiresAt: number | null, extra: Partial<Token> = {}): Token =>
  newToken(kind, { appId: 'app-sweep', userId: 1 }, { createdAt: NOW - 30 * DAY, expiresAt, ...extra });

const session = (extra: Partial<Session> = {}): Session =>
  newSession(1, 'app-sweep', { createdAt: NOW - 30 * DAY, lastUsedAt: NOW - 30 * DAY, ...extra });

/** Which of these tokens are still stored. */
async function stored(store: KyselyStore, tokens: readonly Token[]): Promise<Set<string>> {
  if (tokens.length === 0) return new Set();
  const rows = await store.db.selectFrom('tokens').select('id').where('id', 'in', tokens.map((t) => t.id)).execute();
  return new Set(rows.map((r) => r.id));
}

function sweeper(store: KyselyStore, clock: ManualClock, options: Partial<SweeperOptions> = {}): Sweeper {
  return new Sweeper(store, clock, options);
}

function swept(event: SweepEvent): SweepEvent & { type: 'swept' } {
  assert.equal(event.type, 'swept', event.type === 'failed' ? String(event.error) : '');
  return event as SweepEvent & { type: 'swept' };
}

for (const [name, open] of Object.entries(DATABASES)) {
  describe(`expired-token sweep on ${name}`, () => {
    let db: TestDatabase;
    before(async () => {
      db = await open();
    });
    after(() => db.drop());

    /** Sweeps everything already past the cutoff, so a test counts only its own rows. */
    const drain = () => sweeper(db.store, new ManualClock(NOW), { maxPerRun: 1_000_000 }).sweepOnce().then(swept);

    test('tokens expired longer than the retention go; just-expired, live and never-expiring tokens stay', async () => {
      const gone = [
        token('access', NOW - 2 * DAY),
        token('refresh', NOW - 3 * DAY, { usedAt: NOW - 17 * DAY, successorId: randomUUID() }),
        token('service', NOW - 5 * DAY, { revokedAt: NOW - 20 * DAY }),
        token('install', CUTOFF - 1),
      ];
      const kept = [token('access', CUTOFF), token('refresh', NOW - HOUR), token('access', NOW + HOUR), token('api', null)];
      await db.store.insertTokens([...gone, ...kept]);
      const event = swept(await sweeper(db.store, new ManualClock(NOW)).sweepOnce());
      assert.ok(event.tokens >= gone.length);
      assert.deepEqual(await stored(db.store, [...gone, ...kept]), new Set(kept.map((t) => t.id)));
    });

    test('a token that minted a still-unexpired install token stays until that one is past the retention too', async () => {
      const parent = token('access', NOW - 10 * DAY);
      const child = token('install', NOW + HOUR, { parentId: parent.id, installId: 'device-1' });
      await db.store.insertTokens([parent, child]);
      const clock = new ManualClock(NOW);
      swept(await sweeper(db.store, clock).sweepOnce());
      assert.equal((await stored(db.store, [parent, child])).size, 2, 'revoking the parent must still reach the child');
      clock.advance(HOUR + DAY + 1);
      swept(await sweeper(db.store, clock).sweepOnce());
      assert.equal((await stored(db.store, [parent, child])).size, 0);
    });

    test('a session goes with its last token, revoked or not; a session with a token left stays', async () => {
      const ended = session();
      const revoked = session({ revokedAt: NOW - 20 * DAY });
      const live = session();
      await db.store.insertSession(ended, [token('access', NOW - 9 * DAY, { sessionId: ended.id }), token('refresh', NOW - 2 * DAY, { sessionId: ended.id })]);
      await db.store.insertSession(revoked, [token('refresh', NOW - 2 * DAY, { sessionId: revoked.id, revokedAt: revoked.revokedAt })]);
      await db.store.insertSession(live, [token('access', NOW - 9 * DAY, { sessionId: live.id }), token('refresh', NOW + DAY, { sessionId: live.id })]);
      // One token per batch: the ended session's first batch still leaves it a token.
      const event = swept(await sweeper(db.store, new ManualClock(NOW), { batchSize: 1 }).sweepOnce());
      assert.ok(event.sessions >= 2);
      assert.equal(await db.store.findSession(ended.id), null);
      assert.equal(await db.store.findSession(revoked.id), null);
      assert.notEqual(await db.store.findSession(live.id), null);
    });

    test('one call deletes at most batchSize tokens, and a run batches until one comes back short', async () => {
      await drain();
      await db.store.insertTokens(Array.from({ length: 25 }, (_, i) => token('access', CUTOFF - DAY - i * MINUTE)));
      assert.deepEqual(await db.store.deleteExpiredTokens({ before: CUTOFF, batchSize: 10 }), { tokens: 10, sessions: 0 });
      const run = swept(await sweeper(db.store, new ManualClock(NOW), { batchSize: 10 }).sweepOnce());
      assert.deepEqual([run.tokens, run.batches, run.capped], [15, 2, false]);
      assert.ok(run.ms >= 0);
      assert.deepEqual(await db.store.deleteExpiredTokens({ before: CUTOFF, batchSize: 10 }), { tokens: 0, sessions: 0 });
    });

    test('a run stops at its cap and the next run goes on from there', async () => {
      await drain();
      await db.store.insertTokens(Array.from({ length: 25 }, () => token('refresh', CUTOFF - 1)));
      const capped = sweeper(db.store, new ManualClock(NOW), { batchSize: 4, maxPerRun: 10 });
      const first = swept(await capped.sweepOnce());
      assert.deepEqual([first.tokens, first.batches, first.capped], [10, 3, true]);
      const second = swept(await capped.sweepOnce());
      const third = swept(await capped.sweepOnce());
      assert.deepEqual([second.tokens, third.tokens, third.capped], [10, 5, false]);
    });

    test('two sweepers on two store instances delete every row exactly once and both finish', async () => {
      await drain();
      const sessions = Array.from({ length: 150 }, () => session());
      for (const [n, s] of sessions.entries()) {
        // A session's tokens spread over the expiry order, so they land in different batches (and sweepers).
        const tokens = Array.from({ length: 10 }, (_, i) => token(i % 2 === 0 ? 'access' : 'refresh', CUTOFF - (1 + i * 150 + n) * MINUTE, { sessionId: s.id }));
        await db.store.insertSession(s, tokens);
      }
      const other = db.another();
      try {
        const clock = new ManualClock(NOW);
        const runs = await Promise.all([sweeper(db.store, clock, { batchSize: 25 }).sweepOnce(), sweeper(other, clock, { batchSize: 25 }).sweepOnce()]);
        const [a, b] = runs.map(swept);
        assert.equal(a!.tokens + b!.tokens, 1500);
        assert.equal(a!.sessions + b!.sessions, 150);
        const left = await db.store.db.selectFrom('sessions').select('id').where('id', 'in', sessions.map((s) => s.id)).execute();
        assert.deepEqual(left, []);
      } finally {
        await other.close();
      }
    });

    test('a failing run is reported, never thrown, and the timer retries it on the next tick', async () => {
      const closed = db.another();
      await closed.ping(); // Kysely only really closes a store it has opened
      await closed.close();
      const events: SweepEvent[] = [];
      const failing = sweeper(closed, new ManualClock(NOW), { intervalMs: 20, onEvent: (e) => events.push(e) });
      assert.equal((await failing.sweepOnce()).type, 'failed');
      failing.start();
      const deadline = Date.now() + 5_000;
      while (events.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await failing.stop();
      assert.ok(events.length >= 3, `${events.length} runs`);
      assert.ok(events.every((e) => e.type === 'failed' && e.error instanceof Error));
    });
  });

  describe(`a sweep behind a running server on ${name}`, () => {
    let h: Harness;
    let alice: { username: string; password: string };
    before(async () => {
      h = await startHarness({ database: name as 'sqlite' | 'postgres' });
      alice = await createUser(h);
    });
    after(() => h.close());

    const storedSecret = (secret: string) => h.store.findTokenByHash(tokenKey(secret));

    test('after a sweep the live session still verifies and refreshes; its swept ancestors are simply unknown', async () => {
      const a = await login(h, alice);
      const b = json(await refresh(h, a.refresh_token));
      h.clock.advance(10 * DAY);
      const c = json(await refresh(h, b.refresh_token));
      h.clock.advance(10 * DAY); // a and b expired 6 days ago; c's refresh token lives 4 more days
      swept(await new Sweeper(h.store, h.clock).sweepOnce());
      for (const gone of [a.access_token, a.refresh_token, b.access_token, b.refresh_token, c.access_token]) assert.equal(await storedSecret(gone), null);

      const d = await refresh(h, c.refresh_token);
      assert.equal(d.statusCode, 200, d.body);
      const fresh = json(d);
      assert.equal((await me(h, fresh.access_token)).statusCode, 200);
      // A swept refresh token is unknown, not reuse: the session it once belonged to lives on.
      const replay = await refresh(h, a.refresh_token);
      assert.deepEqual([replay.statusCode, json(replay).error], [400, 'invalid_grant']);
      const sessions = await h.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${fresh.access_token}` } });
      assert.equal(sessions.statusCode, 200, sessions.body);
      assert.equal(json(sessions).sessions.length, 1);
    });

    test('a used refresh token past expiry and retention is swept, and presenting it answers invalid_grant', async () => {
      const first = await login(h, alice);
      const second = json(await refresh(h, first.refresh_token));
      h.clock.advance(15 * DAY + MINUTE);
      assert.notEqual((await storedSecret(first.refresh_token))?.usedAt, null);
      swept(await new Sweeper(h.store, h.clock).sweepOnce());
      assert.equal(await storedSecret(first.refresh_token), null);
      for (const presented of [first.refresh_token, second.refresh_token]) {
        const answer = await refresh(h, presented);
        assert.deepEqual([answer.statusCode, json(answer).error], [400, 'invalid_grant'], answer.body);
      }
    });
  });
}

describe('TOKEND_SWEEP_INTERVAL', () => {
  test('defaults to 300 seconds, 0 turns the sweeper off, and a bad value is one line naming the variable', () => {
    assert.equal(loadConfig({}).sweepIntervalSeconds, 300);
    assert.equal(loadConfig({ TOKEND_SWEEP_INTERVAL: '0' }).sweepIntervalSeconds, 0);
    assert.throws(() => loadConfig({ TOKEND_SWEEP_INTERVAL: '5m' }), /^ConfigError: TOKEND_SWEEP_INTERVAL must be a whole number from 0 to 86400 \(got "5m"\)$/);
  });
});
