import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql, type CompiledQuery } from 'kysely';
import type { Token } from '../../src/core/model.js';
import { isPrepared } from '../../src/store/kysely/prepared.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { DAY, newApp, newSession, newToken, newUser, rotation, T0, tempSqliteStore } from './fixtures.js';

/** Twenty issuances and one whose token collides, in one turn: only that one fails, and it leaves no token or audit row. */
async function oneBadRowFailsAlone(store: KyselyStore, appId: string): Promise<void> {
  const taken = newToken('access', { appId });
  await store.insertTokens([taken]);
  const good = Array.from({ length: 20 }, () => newToken('access', { appId }));
  const duplicate = newToken('access', { appId }, { hash: taken.hash });
  const audited = (token: Token) => store.insertTokens([token], { at: T0, action: 'token.grouped', actor: 'system', appId, tokenId: token.id });
  const results = await Promise.allSettled([...good.slice(0, 10), duplicate, ...good.slice(10)].map(audited));
  assert.deepEqual(results.map((r) => r.status), [...Array(10).fill('fulfilled'), 'rejected', ...Array(10).fill('fulfilled')]);
  for (const token of good) assert.ok((await store.findTokenById(token.id)) !== null, 'a neighbour of the bad row was committed');
  assert.equal(await store.findTokenById(duplicate.id), null, 'the bad row left no token');
  const audit = await store.listAudit({ action: 'token.grouped' }, { limit: 1000, cursor: null });
  assert.deepEqual(new Set(audit.items.map((event) => event.tokenId)), new Set(good.map((token) => token.id)), 'the bad row left no audit row');
}

/** SQLite token and audit inserts of one event-loop turn share a commit (src/store/group-commit.ts). */
describe('grouped commits on SQLite', () => {
  let opened: Awaited<ReturnType<typeof tempSqliteStore>>;
  let store: KyselyStore;
  let appId: string;
  let userId: number;
  before(async () => {
    opened = await tempSqliteStore();
    store = opened.store;
    const app = newApp();
    await store.insertApp(app);
    appId = app.id;
    userId = (await store.insertUser(newUser()))!.id;
  });
  after(() => opened.close());

  test('200 concurrent token and audit writes all resolve committed and readable', async () => {
    const tokens = Array.from({ length: 200 }, () => newToken('access', { appId }));
    await Promise.all(tokens.flatMap((token) => [store.insertTokens([token]), store.appendAudit({ at: T0, action: 'token.issued', actor: 'system', tokenId: token.id })]));
    for (const token of tokens) assert.equal((await store.findTokenById(token.id))?.hash, token.hash);
    const audit = await store.listAudit({ action: 'token.issued' }, { limit: 1000, cursor: null });
    assert.equal(audit.items.filter((event) => tokens.some((t) => t.id === event.tokenId)).length, 200);
  });

  test('one bad row in a shared commit fails only its own caller, and leaves nothing behind', () => oneBadRowFailsAlone(store, appId));

  test('a session whose token cannot be written leaves no session behind; its neighbours commit', async () => {
    const taken = newToken('access', { appId });
    await store.insertTokens([taken]);
    const good = newSession(userId, appId);
    const bad = newSession(userId, appId);
    const results = await Promise.allSettled([
      store.insertSession(good, [newToken('access', { appId, userId, sessionId: good.id })]),
      store.insertSession(bad, [newToken('access', { appId, userId, sessionId: bad.id }), newToken('refresh', { appId, userId, sessionId: bad.id }, { hash: taken.hash })]),
      store.insertTokens([newToken('access', { appId })]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.ok((await store.findSession(good.id)) !== null);
    assert.equal(await store.findSession(bad.id), null, 'the savepoint took the session back with its failed token');
  });

  test('a grouped write waits for a transaction Kysely has open, and is not undone when that one rolls back', async () => {
    const outsider = newSession(userId, appId);
    const token = newToken('access', { appId });
    let written: Promise<void> | undefined;
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await trx.insertInto('sessions').values({ id: outsider.id, user_id: userId, app_id: appId, device_info: 'x', ip: null, user_agent: null, created_at: T0, last_used_at: T0, revoked_at: null }).execute();
        written = store.insertTokens([token]);
        await new Promise((resolve) => setTimeout(resolve, 30));
        throw new Error('rolled back on purpose');
      }),
      /rolled back on purpose/,
    );
    await written;
    assert.equal(await store.findSession(outsider.id), null, 'the open transaction rolled back');
    assert.equal((await store.findTokenById(token.id))?.hash, token.hash, 'the grouped write committed on its own');
  });

  test('several tokens in one insert stand or fall together', async () => {
    const taken = newToken('access', { appId });
    await store.insertTokens([taken]);
    const first = newToken('access', { appId });
    await assert.rejects(store.insertTokens([first, newToken('access', { appId }, { hash: taken.hash })]));
    assert.equal(await store.findTokenById(first.id), null);
  });

  test('20 rotations of one refresh token in one turn: exactly one wins, and only its successors exist', async () => {
    const session = newSession(userId, appId);
    const refresh = newToken('refresh', { appId, userId, sessionId: session.id }, { expiresAt: T0 + 14 * DAY });
    await store.insertSession(session, [refresh]);
    const attempts = Array.from({ length: 20 }, () => rotation(refresh, T0 + 1000));
    const results = await Promise.all(attempts.map((r) => store.rotateRefreshToken(r)));
    assert.equal(results.filter((r) => r.outcome === 'rotated').length, 1);
    const winner = attempts[results.findIndex((r) => r.outcome === 'rotated')]!;
    for (const attempt of attempts) {
      for (const successor of attempt.successors) assert.equal((await store.findTokenById(successor.id)) !== null, attempt === winner);
    }
    const lost = results.find((r) => r.outcome === 'lost');
    assert.ok(lost !== undefined && lost.outcome === 'lost' && lost.token?.successorId === winner.successorId);
  });
});

describe('grouped commits on a full SQLite database', () => {
  test('every write that resolved is stored and every write that failed left nothing behind', async () => {
    const { store, close } = await tempSqliteStore();
    try {
      const app = newApp();
      await store.insertApp(app);
      const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(store.db);
      // Room for a few more pages only: some of the batch fits, the rest finds the disk "full".
      await sql.raw(`pragma max_page_count = ${rows[0]!.page_count + 3}`).execute(store.db);
      const tokens = Array.from({ length: 300 }, () => newToken('access', { appId: app.id }, { name: 'x'.repeat(200) }));
      const results = await Promise.allSettled(tokens.map((token) => store.insertTokens([token])));
      assert.ok(results.some((r) => r.status === 'rejected'), 'the database filled up');
      await sql.raw('pragma max_page_count = 1073741823').execute(store.db);
      for (const [i, token] of tokens.entries()) {
        const stored = (await store.findTokenById(token.id)) !== null;
        assert.equal(stored, results[i]!.status === 'fulfilled', `token ${i}: ${results[i]!.status} but ${stored ? 'stored' : 'not stored'}`);
      }
    } finally {
      await close();
    }
  });
});

/** Postgres: the token inserts of one event-loop turn go as one statement (src/store/grouped-issuance.ts). */
describe('grouped issuance on Postgres', () => {
  let database: TestDatabase;
  let store: KyselyStore;
  let appId: string;
  /** Statements that insert tokens, counted as the real store runs them. */
  let tokenInserts = 0;
  let lastTokenInsert = '';
  before(async () => {
    database = await createTestDatabase();
    store = openPostgresStore(database.url);
    await store.migrate();
    const app = newApp();
    await store.insertApp(app);
    appId = app.id;
    const execute = store.db.executeQuery.bind(store.db);
    Object.assign(store.db, {
      executeQuery: (query: CompiledQuery) => {
        if (/insert into "tokens"/.test(query.sql)) {
          tokenInserts += 1;
          lastTokenInsert = query.sql;
        }
        return execute(query);
      },
    });
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  test('40 issuances in one turn are one statement, and each resolves committed with its audit row', async () => {
    const tokens = Array.from({ length: 40 }, () => newToken('access', { appId }));
    tokenInserts = 0;
    await Promise.all(tokens.map((token) => store.insertTokens([token], { at: T0, action: 'token.issued', actor: 'system', appId, tokenId: token.id })));
    assert.equal(tokenInserts, 1);
    // Its text varies with the group's size: it must not take a place among the statements prepared once.
    assert.equal(isPrepared(lastTokenInsert), false);
    for (const token of tokens) assert.equal((await store.findTokenById(token.id))?.hash, token.hash);
    const audit = await store.listAudit({ action: 'token.issued' }, { limit: 1000, cursor: null });
    assert.equal(audit.items.filter((event) => tokens.some((t) => t.id === event.tokenId)).length, 40);
  });

  test('3,000 issuances in one turn, more parameters than one statement takes, all resolve committed', async () => {
    // A token with its audit row is 28 parameters, and a Postgres statement takes at most 65,535.
    const tokens = Array.from({ length: 3_000 }, () => newToken('access', { appId }));
    tokenInserts = 0;
    await Promise.all(tokens.map((token) => store.insertTokens([token], { at: T0, action: 'token.burst', actor: 'system', appId, tokenId: token.id })));
    assert.ok(tokenInserts >= 2 && tokenInserts <= 6, `${tokenInserts} statements`);
    const stored = await store.db.selectFrom('tokens').select((eb) => eb.fn.countAll<string>().as('n')).where('id', 'in', tokens.map((t) => t.id)).executeTakeFirstOrThrow();
    assert.equal(Number(stored.n), 3_000);
    const audit = await store.listAudit({ action: 'token.burst' }, { limit: 1000, cursor: null });
    assert.equal(audit.items.length, 1000, 'a full page of the burst\'s audit rows');
  });

  test('one bad row in a grouped statement fails only its own caller, and leaves nothing behind', () => oneBadRowFailsAlone(store, appId));

  test('sessions of one turn are the same one statement; a session whose token cannot be written leaves no session behind', async () => {
    const userId = (await store.insertUser(newUser()))!.id;
    const taken = newToken('access', { appId });
    await store.insertTokens([taken]);
    const good = Array.from({ length: 6 }, () => newSession(userId, appId));
    const bad = newSession(userId, appId);
    tokenInserts = 0;
    const results = await Promise.allSettled([
      ...good.map((session) => store.insertSession(session, [newToken('access', { appId, userId, sessionId: session.id })])),
      store.insertSession(bad, [newToken('access', { appId, userId, sessionId: bad.id }), newToken('refresh', { appId, userId, sessionId: bad.id }, { hash: taken.hash })]),
      store.insertTokens([newToken('access', { appId })]),
    ]);
    assert.deepEqual(results.map((r) => r.status), [...Array(6).fill('fulfilled'), 'rejected', 'fulfilled']);
    assert.equal(tokenInserts, 1 + 8, 'one grouped statement, then each issuance alone');
    for (const session of good) assert.notEqual(await store.findSession(session.id), null);
    assert.equal(await store.findSession(bad.id), null);

    tokenInserts = 0;
    const more = Array.from({ length: 6 }, () => newSession(userId, appId));
    await Promise.all(more.map((session) => store.insertSession(session, [newToken('access', { appId, userId, sessionId: session.id })])));
    assert.equal(tokenInserts, 1);
    for (const session of more) assert.notEqual(await store.findSession(session.id), null);
  });

  test('when the store is out of reach, every caller of the group hears it', async () => {
    // Nothing listens on port 1: each connection attempt is refused at once.
    const gone = openPostgresStore('postgres://postgres@127.0.0.1:1/tokend', { poolSize: 2, statementTimeoutMs: 1_000, connectTimeoutMs: 1_000 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => gone.insertTokens([newToken('access', { appId })])));
    await gone.close();
    assert.deepEqual(results.map((r) => r.status), Array(5).fill('rejected'));
  });
});
