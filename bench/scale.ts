/**
 * `npm run bench:scale`: does verification stay flat as the token table
 * grows? For each size (10 thousand, then 10 million rows by default) a fresh
 * store gets real tokens through tokend's API plus filler rows written straight
 * into the table, then a restarted node (cold caches) verifies tokens it has
 * never seen (one store read each) and one token over and over (the cache).
 * Issue 7's target: the figure at 10 million within 15 % of the one at 10
 * thousand, judged by the node's CPU time per request (the sizes run minutes
 * apart, and CPU time is what time stolen by other machines cannot move).
 * Loopback only, bounded, prints progress; not part of `npm test`.
 *
 *   SCALE_SIZES=10000,10000000 SCALE_STORES=sqlite,postgres BENCH_SECONDS=5 npm run bench:scale
 */
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { TOKEND_BUILT_MAIN } from '../test/helpers/serve.js';
import { benchData, benchSettingsEnv, measure, pinnedCpu, postJson, startPinned, stopServer, type BenchSettings, type Figure } from './scenarios.js';

const ROOT = join(import.meta.dirname, '..');
const SIZES = (process.env.SCALE_SIZES ?? '10000,10000000').split(',').map(Number);
const STORES = (process.env.SCALE_STORES ?? 'sqlite').split(',');
const PRESENTED = Number(process.env.SCALE_PRESENTED ?? 12_000);
const BATCH = 500_000;
const ADMIN = 'scale-operator-token-0123456789abcdefghijklmnop';
const settings: BenchSettings = {
  seconds: Number(process.env.BENCH_SECONDS ?? 5),
  connections: [32],
  serverCpu: cpus().length > 1 ? String(cpus().length - 1) : null,
  ceilingUrl: null,
  ceilingPid: null,
  loadCpu: pinnedCpu(),
  only: null,
};

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Opaque user access tokens through the API: a few logins, then refresh rotation, which mints one per call. */
async function realTokens(url: string, count: number): Promise<{ tokens: string[]; appId: string; userId: number }> {
  const admin = `Bearer ${ADMIN}`;
  const app = await postJson(url, '/admin/v1/apps', { name: 'scale' }, admin);
  const user = await postJson(url, '/admin/v1/users', { username: 'scale', password: 'scale-password' }, admin);
  const credentials = { client_id: app.client_id, client_secret: app.client_secret };
  const tokens: string[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      let { refresh_token: refresh, access_token: access } = await postJson(url, '/oauth/token', { grant_type: 'password', username: 'scale', password: 'scale-password', ...credentials });
      tokens.push(access);
      while (tokens.length < count) {
        ({ refresh_token: refresh, access_token: access } = await postJson(url, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refresh, ...credentials }));
        tokens.push(access);
      }
    }),
  );
  return { tokens: tokens.slice(0, count), appId: app.id, userId: user.id };
}

/** Rows that look like live access tokens of many users, written in batches with a progress line each. */
async function fill(store: string, target: { sqlite?: string; postgres?: string }, rows: number, appId: string): Promise<void> {
  const now = Date.now();
  const expires = now + 86_400_000;
  const started = performance.now();
  const progress = (done: number) => say(`    filler ${done.toLocaleString('en')} / ${rows.toLocaleString('en')} rows, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (store === 'sqlite') {
    const db = new Database(target.sqlite!);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000');
    const insert = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO tokens (id, hash, kind, format, app_id, user_id, scopes, created_at, expires_at)
       SELECT lower(hex(randomblob(16))), lower(hex(randomblob(32))), 'access', 'opaque', ?, abs(random() % 100000) + 1000, '', ?, ? FROM n`,
    );
    for (let done = 0; done < rows; ) {
      const batch = Math.min(BATCH, rows - done);
      db.transaction(() => insert.run(batch, appId, now, expires))();
      done += batch;
      progress(done);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  } else {
    const client = new pg.Client({ connectionString: target.postgres! });
    await client.connect();
    for (let done = 0; done < rows; ) {
      const batch = Math.min(BATCH, rows - done);
      await client.query(
        `INSERT INTO tokens (id, hash, kind, format, app_id, user_id, scopes, created_at, expires_at)
         SELECT md5(random()::text || i), encode(sha256((random()::text || i)::bytea), 'hex'), 'access', 'opaque', $1, (random() * 100000)::int + 1000, '', $2, $3
         FROM generate_series(1, $4) AS i`,
        [appId, now, expires, batch],
      );
      done += batch;
      progress(done);
    }
    await client.query('ANALYZE tokens');
    await client.end();
  }
}

async function atSize(store: string, size: number): Promise<Figure[]> {
  say(`${store}: ${size.toLocaleString('en')} tokens`);
  // 16 parallel logins of one user: raise the login limits so only the hashing queue acts.
  const data = await benchData(store, { ...benchSettingsEnv(), TOKEND_ADMIN_TOKEN: ADMIN });
  const { env, sqlitePath } = data;
  try {
    let server = await startPinned(settings, [TOKEND_BUILT_MAIN, 'serve', '--port', '0'], env);
    // The same number of tokens at every size, and a fifth of them presented first, uncounted: the node
    // has just started, and a smaller sample of a colder node had read as a slower store.
    const presented = Math.min(PRESENTED, Math.floor(Math.min(...SIZES) / 2));
    const warm = Math.floor(presented / 5);
    let made: Awaited<ReturnType<typeof realTokens>>;
    try {
      made = await realTokens(server.url, presented);
    } finally {
      await stopServer(server);
    }
    const { tokens, appId } = made;
    // Rotation wrote an access and a refresh row per token; the filler brings the table to `size`.
    await fill(store, { sqlite: sqlitePath, ...(data.postgresUrl !== null && { postgres: data.postgresUrl }) }, Math.max(0, size - 2 * presented), appId);
    if (store === 'sqlite') say(`    database file ${(statSync(sqlitePath).size / 2 ** 20).toFixed(0)} MiB`);
    server = await startPinned(settings, [TOKEND_BUILT_MAIN, 'serve', '--port', '0'], env);
    try {
      const label = `${size.toLocaleString('en')} tokens`;
      const pid = server.child.pid ?? null;
      const firstSight = (queue: string[]): autocannon.Options => ({
        url: `${server.url}/v1/me`,
        amount: queue.length,
        requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${queue.pop() ?? 'none'}` } }) }],
      });
      // Tokens of their own warm the node's first-sight path; the measured ones stay unseen.
      await autocannon({ connections: 32, ...firstSight(tokens.slice(0, warm)) });
      return [
        await measure(settings, `verify: GET /v1/me, opaque (first sight), ${label}`, store, 32, firstSight(tokens.slice(warm)), null, null, pid),
        await measure(settings, `verify: GET /v1/me, opaque (repeat), ${label}`, store, 32, { url: `${server.url}/v1/me`, headers: { authorization: `Bearer ${tokens[0]}` } }, undefined, null, pid),
      ];
    } finally {
      await stopServer(server);
    }
  } finally {
    await data.close();
  }
}

const figures: Figure[] = [];
for (const store of STORES) for (const size of SIZES) figures.push(...(await atSize(store, size)));
const lines = figures.map((f) => `| ${f.scenario} | ${f.store} | ${f.requestsPerSecond} | ${f.cpuUs ?? '-'} | ${f.p50} | ${f.p99} | ${f.errors} |`);
console.log(['| scenario | store | req/s | CPU µs/req | p50 ms | p99 ms | errors |', '|---|---|---:|---:|---:|---:|---:|', ...lines].join('\n'));
for (const store of STORES) {
  for (const kind of ['first sight', 'repeat']) {
    const pick = (size: number) => figures.find((f) => f.store === store && f.scenario.includes(kind) && f.scenario.endsWith(`${size.toLocaleString('en')} tokens`));
    const small = pick(SIZES[0]!);
    const large = pick(SIZES.at(-1)!);
    if (small?.cpuUs && large?.cpuUs) {
      // Judged by CPU per request, which time stolen by other machines cannot move; the two sizes run minutes apart.
      const ratio = small.cpuUs / large.cpuUs;
      const rate = large.requestsPerSecond / small.requestsPerSecond;
      console.log(
        `${store}, ${kind}: ${SIZES.at(-1)!.toLocaleString('en')} tokens at ${(ratio * 100).toFixed(0)} % of ${SIZES[0]!.toLocaleString('en')} by CPU a request ` +
          `(${large.cpuUs} against ${small.cpuUs} µs; ${(rate * 100).toFixed(0)} % by req/s) — ${ratio >= 0.85 ? 'met' : 'NOT met'} (within 15 %)`,
      );
    }
  }
}
writeFileSync(join(ROOT, 'bench/results/scale.json'), `${JSON.stringify({ at: new Date().toISOString(), sizes: SIZES, figures }, null, 2)}\n`);
