import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { exited, startServer, type Running } from '../helpers/serve.js';

/*
 * SPEC §10: "A token returned to a client has been committed: kill -9 at any
 * moment loses no issued token and corrupts nothing." Real `tokend serve`
 * processes under mixed load are killed with SIGKILL at a random moment; a
 * fresh process on the same store must honour every answer the client got.
 */

const ADMIN = 'durability-test-operator-token-0123456789abcdef';
const ROUNDS = 3;
const LOOPS = 16;
const USERNAME = 'durable-alice';
const PASSWORD = 'durable-alice-password';

interface Client {
  client_id: string;
  client_secret: string;
}

interface Chain {
  /** The newest refresh token this client holds for the chain. */
  newest: string;
}

/** What the client saw answered with 2xx during one round. */
interface Answers {
  userAccess: string[];
  serviceAccess: string[];
  chains: Chain[];
  failedAfterKill: number;
}

async function post(url: string, path: string, form: Record<string, string>, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token && { authorization: `Bearer ${token}` }) },
    body: new URLSearchParams(form).toString(),
  });
  // A 2xx counts only once its whole body has reached the client.
  return { status: response.status, body: await response.json() };
}

async function postJson(url: string, path: string, body: Record<string, unknown>): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}


async function me(url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Runs `work` over `items` with `width` requests in flight. */
async function eachConcurrently<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/**
 * ~16 loops of mixed traffic until the process is killed after a random
 * 300-1500 ms: client_credentials, a few password logins (argon2 is slow),
 * refresh chains and /v1/me checks. Failures after the kill are expected.
 */
async function loadUntilKilled(server: Running, client: Client): Promise<Answers & { killedAfterMs: number }> {
  const answers: Answers = { userAccess: [], serviceAccess: [], chains: [], failedAfterKill: 0 };
  let killed = false;
  const killedAfterMs = 300 + Math.floor(Math.random() * 1200);
  const hardStop = performance.now() + killedAfterMs + 5_000;
  const running = () => !killed && performance.now() < hardStop;
  const login = async () => {
    const { status, body } = await post(server.url, '/oauth/token', { grant_type: 'password', username: USERNAME, password: PASSWORD, ...client });
    assert.equal(status, 200, JSON.stringify(body));
    answers.userAccess.push(body.access_token);
    return body as { access_token: string; refresh_token: string };
  };
  const loop = async (index: number) => {
    try {
      if (index % 4 === 0) {
        const chain = answers.chains[index / 4]!;
        while (running()) {
          const { status, body } = await post(server.url, '/oauth/token', { grant_type: 'refresh_token', refresh_token: chain.newest, ...client });
          assert.equal(status, 200, JSON.stringify(body));
          answers.userAccess.push(body.access_token);
          chain.newest = body.refresh_token;
          assert.equal(await me(server.url, body.access_token), 200);
        }
      } else if (index === 1) {
        while (running()) await login();
      } else if (index % 4 === 1) {
        while (running()) {
          const token = answers.userAccess[Math.floor(Math.random() * answers.userAccess.length)];
          if (token === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
          else assert.equal(await me(server.url, token), 200);
        }
      } else {
        while (running()) {
          const { status, body } = await post(server.url, '/oauth/token', { grant_type: 'client_credentials', ...client });
          assert.equal(status, 200, JSON.stringify(body));
          answers.serviceAccess.push(body.access_token);
        }
      }
    } catch (error) {
      if (!killed) throw error;
      answers.failedAfterKill++;
    }
  };
  // Each chain starts from a login of its own, before the clock runs: argon2 is slow.
  for (const tokens of await Promise.all(Array.from({ length: LOOPS / 4 }, login))) answers.chains.push({ newest: tokens.refresh_token });
  const timer = setTimeout(() => {
    killed = true;
    server.child.kill('SIGKILL');
  }, killedAfterMs);
  try {
    await Promise.all(Array.from({ length: LOOPS }, (_, index) => loop(index)));
  } finally {
    clearTimeout(timer);
  }
  assert.ok(killed, 'the server was killed while the load ran');
  await exited(server.child);
  return { ...answers, killedAfterMs };
}

/** Sessions holding more than one live (unused, unrevoked) refresh token. */
async function sessionsWithTwoLiveRefreshTokens(store: KyselyStore): Promise<{ sessions: number; doubled: unknown[] }> {
  try {
    const live = await store.db
      .selectFrom('tokens')
      .select(['session_id', sql<number>`count(*)`.as('live')])
      .where('kind', '=', 'refresh')
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .groupBy('session_id')
      .execute();
    return { sessions: live.length, doubled: live.filter((row) => Number(row.live) > 1) };
  } finally {
    await store.close();
  }
}

const stores = [
  {
    name: 'SQLite',
    async prepare() {
      const dir = mkdtempSync(join(tmpdir(), 'tokend-durability-'));
      const path = join(dir, 'tokend.db');
      return {
        databaseUrl: `sqlite:${path}`,
        open: () => openSqliteStore(path),
        integrity: () => {
          const database = new SQLite(path);
          try {
            return database.pragma('integrity_check', { simple: true });
          } finally {
            database.close();
          }
        },
        remove: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'Postgres',
    async prepare() {
      const database: TestDatabase = await createTestDatabase();
      return { databaseUrl: database.url, open: () => openPostgresStore(database.url), integrity: null, remove: () => database.drop() };
    },
  },
];

for (const kind of stores) {
  describe(`kill -9 on ${kind.name}`, () => {
    let store: Awaited<ReturnType<(typeof kind)['prepare']>>;
    let server: Running;
    let client: Client;
    let env: Record<string, string>;

    before(async () => {
      store = await kind.prepare();
      env = {
        TOKEND_DATABASE_URL: store.databaseUrl,
        TOKEND_ADMIN_TOKEN: ADMIN,
        TOKEND_LOG_LEVEL: 'warn',
        TOKEND_SWEEP_INTERVAL: '0',
        TOKEND_ISSUER: 'http://tokend.durability.test',
      };
      server = await startServer({ env });
      // A grace window lets a client replay a refresh whose answer the kill swallowed (SPEC §4).
      client = await postJson(server.url, '/admin/v1/apps', { name: 'durable', refresh_reuse_grace_seconds: 60 });
      await postJson(server.url, '/admin/v1/users', { username: USERNAME, password: PASSWORD });
    });
    after(async () => {
      server?.child.kill('SIGKILL');
      if (server !== undefined) await exited(server.child);
      await store?.remove();
    });

    for (let round = 1; round <= ROUNDS; round++) {
      test(`round ${round}: every token answered before kill -9 is still valid after a restart`, async () => {
        const answers = await loadUntilKilled(server, client);
        server = await startServer({ env });
        const recorded = answers.userAccess.length + answers.serviceAccess.length + answers.chains.length;

        const refused: string[] = [];
        await eachConcurrently(answers.userAccess, LOOPS, async (token) => {
          if ((await me(server.url, token)) !== 200) refused.push(`user access token ${token.slice(0, 12)}…`);
        });
        await eachConcurrently(answers.serviceAccess, LOOPS, async (token) => {
          const { body } = await post(server.url, '/oauth/introspect', { token }, ADMIN);
          if (body.active !== true) refused.push(`client_credentials token ${token.slice(0, 12)}…`);
        });
        // The newest refresh token of a chain is either still live or, if the kill swallowed the
        // answer of a committed rotation, replayable inside the grace window: both answer 200.
        await eachConcurrently(answers.chains, LOOPS, async (chain) => {
          const { status, body } = await post(server.url, '/oauth/token', { grant_type: 'refresh_token', refresh_token: chain.newest, ...client });
          if (status !== 200) refused.push(`chain's newest refresh token: ${status} ${JSON.stringify(body)}`);
        });
        const { sessions, doubled } = await sessionsWithTwoLiveRefreshTokens(store.open());
        const integrity = store.integrity?.() ?? 'n/a';

        console.log(
          `${kind.name} round ${round}: killed after ${answers.killedAfterMs} ms; ${recorded} 2xx recorded ` +
            `(${answers.userAccess.length} user access, ${answers.serviceAccess.length} client_credentials, ${answers.chains.length} chains), ` +
            `${recorded - refused.length} verified after restart; ${answers.failedAfterKill} requests cut by the kill; ` +
            `${sessions} sessions with a live refresh token, ${doubled.length} with two; integrity ${integrity}`,
        );
        assert.deepEqual(refused, []);
        assert.deepEqual(doubled, []);
        if (store.integrity !== null) assert.equal(integrity, 'ok');
        assert.ok(answers.userAccess.length > 0 && answers.serviceAccess.length > 0, 'the load got answers before the kill');
      });
    }
  });
}
