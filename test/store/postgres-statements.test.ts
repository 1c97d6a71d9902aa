import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { kyselyStore, type KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Database } from '../../src/store/schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { T0, MINUTE, newMasterKey, newToken, rotation, seeds } from './fixtures.js';

/*
 * How tokend's statements run on Postgres. Postgres plans a statement from table statistics, and a table it has not
 * analyzed yet (a new deployment, or autovacuum off) has none. The hot
 * statements must find their row by its unique key whatever the statistics:
 * a rotation that once took the (app_id, kind) index read every refresh token
 * of the app to spend one.
 */

let database: TestDatabase;
let pool: pg.Pool;
let store: KyselyStore;
const statements: CompiledQuery[] = [];

before(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // Dropping the database at the end terminates any connection still closing: expected, not a failure.
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') statements.push(event.query);
    },
  });
  store = kyselyStore(db);
  await store.migrate();
});

after(async () => {
  await store.close();
  await database.drop();
});

type PlanNode = Record<string, unknown>;

/** Every node of the plan of `statement`, as Postgres would run it now (after `settings`, on that connection only). */
async function planOf(statement: CompiledQuery, settings: string[] = []): Promise<PlanNode[]> {
  const client = await pool.connect();
  try {
    for (const setting of settings) await client.query(`set ${setting}`);
    const { rows } = await client.query(`explain (format json) ${statement.sql}`, [...statement.parameters]);
    const nodes: PlanNode[] = [];
    const visit = (node: PlanNode): void => {
      nodes.push(node);
      for (const child of (node.Plans as PlanNode[] | undefined) ?? []) visit(child);
    };
    visit((rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
    return nodes;
  } finally {
    await client.query('reset all');
    client.release();
  }
}

/** Every index the plan of `statement` reads, as Postgres would run it now. */
async function indexesOf(statement: CompiledQuery): Promise<string[]> {
  return (await planOf(statement)).flatMap((node) => (typeof node['Index Name'] === 'string' ? [node['Index Name']] : []));
}

/**
 * The plan of `statement` with every other way made dearer than any sequential scan or sort: a node listed
 * here is one the statement cannot do without, as "Seq Scan on <table>" or "Sort"; with the conditions its
 * index scans seek by.
 */
async function unavoidable(statement: CompiledQuery): Promise<{ nodes: string[]; seeks: string[] }> {
  const plan = await planOf(statement, ['enable_seqscan = off', 'enable_sort = off']);
  return {
    nodes: plan.flatMap((node) => (node['Node Type'] === 'Seq Scan' ? [`Seq Scan on ${String(node['Relation Name'])}`] : node['Node Type'] === 'Sort' ? ['Sort'] : [])),
    seeks: plan.flatMap((node) => (typeof node['Index Cond'] === 'string' ? [node['Index Cond']] : [])),
  };
}

test('revocations find a session\'s, a user\'s, a master key\'s and a parent\'s tokens through an index, never a scan of them all', async () => {
  const { seedApp, seedUser, login } = seeds(() => store);
  const app = await seedApp();
  const user = await seedUser();
  const sessions = await Promise.all(Array.from({ length: 3 }, () => login(app, user)));
  const key = newMasterKey(app.id);
  await store.insertMasterKey(key);
  const service = newToken('service', { appId: app.id }, { masterKeyId: key.id });
  const install = newToken('install', { appId: app.id, userId: user.id }, { parentId: sessions[0]!.access.id });
  await store.insertTokens([service, install]);

  statements.length = 0;
  assert.ok(await store.revokeSession(sessions[0]!.session.id, T0 + MINUTE));
  await store.setUserPassword(user.id, 'another-hash', T0 + MINUTE, sessions[1]!.session.id);
  assert.ok(await store.revokeToken(sessions[1]!.access.id, T0 + MINUTE));
  assert.ok(await store.revokeMasterKey(key.id, T0 + MINUTE));
  await store.setUserDisabled(user.id, true, T0 + MINUTE);
  assert.equal((await store.findTokenById(install.id))?.revokedAt, T0 + MINUTE, 'the session\'s minted token');
  assert.equal((await store.findTokenById(service.id))?.revokedAt, T0 + MINUTE, 'the master key\'s token');
  await store.deleteExpiredTokens({ before: T0 + 400 * 86_400_000, batchSize: 100 });

  const touching = statements.filter((s) => /^(update|delete from|select) .*"tokens"/s.test(s.sql) && !/^insert/.test(s.sql));
  assert.ok(touching.length >= 7, touching.map((s) => s.sql).join('\n'));
  for (const statement of touching) assert.deepEqual((await unavoidable(statement)).nodes.filter((node) => node.startsWith('Seq Scan')), [], statement.sql);
});

test("a page of all tokens, an app's or a user's, or of a user's sessions, seeks to where it starts and reads in order: no sort, no scan", async () => {
  const { seedApp, seedUser, login } = seeds(() => store);
  const app = await seedApp();
  const user = await seedUser();
  for (let i = 0; i < 3; i++) await login(app, user, T0 + i * MINUTE);
  const pages = [
    (cursor: string | null) => store.listTokens({ appId: app.id }, { limit: 2, cursor }),
    (cursor: string | null) => store.listTokens({ userId: user.id }, { limit: 2, cursor }),
    (cursor: string | null) => store.listTokens({ appId: app.id, kind: 'refresh' }, { limit: 2, cursor }),
    (cursor: string | null) => store.listTokens({}, { limit: 2, cursor }),
    (cursor: string | null) => store.listTokens({ kind: 'access' }, { limit: 2, cursor }),
    (cursor: string | null) => store.listSessionsForUser(user.id, { limit: 2, cursor }),
  ];
  for (const page of pages) {
    const first = await page(null);
    assert.notEqual(first.nextCursor, null);
    statements.length = 0;
    await page(first.nextCursor);
    const listing = statements.filter((s) => /^select/.test(s.sql));
    assert.equal(listing.length, 1);
    const plan = await unavoidable(listing[0]!);
    assert.deepEqual(plan.nodes, [], listing[0]!.sql);
    // The second page starts where the first ended, not at the list's head.
    assert.ok(plan.seeks.some((seek) => seek.includes('created_at')), `${listing[0]!.sql}: seeks ${plan.seeks.join('; ')}`);
  }
});

test('a rotation spends its refresh token through the hash index on a table Postgres has not analyzed', async () => {
  const { seedApp, seedUser, login } = seeds(() => store);
  const app = await seedApp();
  const user = await seedUser();
  const sessions = await Promise.all(Array.from({ length: 50 }, () => login(app, user)));
  const { rows } = await pool.query<{ analyzed: boolean }>(`select reltuples >= 0 as analyzed from pg_class where relname = 'tokens'`);
  assert.equal(rows[0]!.analyzed, false, 'this test is about a table without statistics');

  statements.length = 0;
  const spend = rotation(sessions[0]!.refresh, T0 + MINUTE);
  assert.equal((await store.rotateRefreshToken(spend)).outcome, 'rotated');
  const rotating = statements.filter((s) => /update tokens set used_at/.test(s.sql));
  assert.equal(rotating.length, 1);
  const indexes = await indexesOf(rotating[0]!);
  assert.ok(indexes.includes('tokens_hash_key'), `the rotation's plan reads ${indexes.join(', ')}`);
  assert.ok(!indexes.includes('tokens_app'), `the rotation's plan reads ${indexes.join(', ')}`);
});

test('the hot statements are prepared once per connection, select * is not, and both survive a new column', async () => {
  const node = openPostgresStore(database.url, { poolSize: 1, statementTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
  try {
    const { seedApp, seedUser, login } = seeds(() => node);
    const app = await seedApp();
    const { refresh } = await login(app, await seedUser());
    assert.equal((await node.rotateRefreshToken(rotation(refresh, T0 + MINUTE))).outcome, 'rotated');
    const token = newToken('access', { appId: app.id });
    await node.insertTokens([token], { at: T0, action: 'token.issued', actor: 'app:x', appId: app.id, tokenId: token.id });
    assert.deepEqual(await node.findTokenById(token.id), token);
    assert.deepEqual(await node.findTokenByHash(token.hash), token);

    // One connection, so this is the connection that ran them.
    const prepared = async () => (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(node.db)).rows.map((r) => r.statement);
    const statements = await prepared();
    assert.ok(statements.some((s) => /^with "issued_0" as \(insert into "sessions"/.test(s)), 'the login');
    assert.ok(statements.some((s) => /update tokens set used_at/.test(s)), 'the rotation');
    assert.ok(statements.some((s) => /^with "issued_0" as \(insert into "tokens"/.test(s)), 'the issuance');
    assert.ok(statements.some((s) => /^select "id", "hash", .* from "tokens" where "hash" = \$1$/.test(s)), 'the read by hash');
    assert.ok(!statements.some((s) => /select \* from (?!\(values)/.test(s)), statements.join('\n'));

    // A migration that adds a column under a running node: prepared writes are planned again, reads keep working.
    await sql`alter table tokens add column later text`.execute(node.db);
    try {
      const next = newToken('access', { appId: app.id });
      await node.insertTokens([next], { at: T0, action: 'token.issued', actor: 'app:x', appId: app.id, tokenId: next.id });
      assert.equal((await node.findTokenById(next.id))?.id, next.id);
      assert.deepEqual(await node.findTokenByHash(next.hash), next);
      assert.equal((await prepared()).length, statements.length);
    } finally {
      await sql`alter table tokens drop column later`.execute(node.db);
    }
  } finally {
    await node.close();
  }
});
