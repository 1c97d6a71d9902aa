import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { REDIS_URL } from '../helpers/cluster.js';
import { exited, startServer, TOKEND_MAIN as MAIN, type Running } from '../helpers/serve.js';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/*
 * SPEC §10 with real processes: two `tokend serve` on loopback ports share one
 * Postgres database (reached through a proxy the test can cut) and one Redis.
 */

const ADMIN = 'processes-test-operator-token-0123456789abcdef';
/** Login limits live in the shared Redis across runs: a target of this run's own. */
const TARGET = `mallory-${process.pid}-${Date.now()}`;

describe('two tokend processes, one Postgres, one Redis', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let a: Running;
  let b: Running;
  const clients: Record<'opaque' | 'jwt', { client_id: string; client_secret: string }> = {} as never;

  const call = async (node: Running, method: string, path: string, body?: Record<string, string>, token?: string) => {
    const response = await fetch(`${node.url}${path}`, {
      method,
      headers: { ...(body && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
      ...(body && { body: JSON.stringify(body) }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json().catch(() => null)) as any };
  };

  before(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(POSTGRES_ADMIN_URL).port || 5432));
    const viaProxy = new URL(database.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const env = {
      TOKEND_DATABASE_URL: viaProxy.toString(),
      TOKEND_REDIS_URL: REDIS_URL,
      TOKEND_ISSUER: 'http://tokend.cluster.test', // every node of one deployment shares its issuer
      TOKEND_ADMIN_TOKEN: ADMIN,
      TOKEND_LOG_LEVEL: 'warn',
      TOKEND_LOGIN_LIMIT_USER: '3',
      TOKEND_DATABASE_TIMEOUT_MS: '3000',
    };
    // First start on an empty database happens once, before the nodes (docs/operations.md).
    // (Asynchronously: the proxy lives in this process and must keep piping meanwhile.)
    const migrate = spawn(process.execPath, ['--import', 'tsx', MAIN, 'migrate'], { env: { ...process.env, ...env } });
    let stderr = '';
    migrate.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal(await exited(migrate), 0, stderr);
    [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
    for (const format of ['opaque', 'jwt'] as const) {
      const made = await call(a, 'POST', '/admin/v1/apps', { name: format, access_token_format: format } as never, ADMIN);
      clients[format] = made.body;
    }
    for (const username of ['alice', TARGET]) {
      assert.equal((await call(b, 'POST', '/admin/v1/users', { username, password: `${username}-password` }, ADMIN)).status, 201);
    }
  });
  after(async () => {
    for (const node of [a, b]) node?.child.kill('SIGKILL');
    await proxy?.close();
    await database?.drop();
  });

  const login = async (node: Running, format: 'opaque' | 'jwt', username = 'alice', password = `${username}-password`) =>
    call(node, 'POST', '/oauth/token', { grant_type: 'password', username, password, ...clients[format] });

  for (const format of ['opaque', 'jwt'] as const) {
    test(`an ${format} token revoked on one process is refused by the other within 1 s`, async () => {
      const { body: tokens } = await login(a, format);
      assert.equal((await call(b, 'GET', '/v1/me', undefined, tokens.access_token)).status, 200);
      assert.equal((await call(b, 'GET', '/v1/me', undefined, tokens.access_token)).status, 200); // now cached on B
      const start = performance.now();
      assert.equal((await call(a, 'POST', '/oauth/revoke', { token: tokens.access_token, ...clients[format] })).status, 200);
      let lag = Number.POSITIVE_INFINITY;
      while (performance.now() - start < 3_000) {
        if ((await call(b, 'GET', '/v1/me', undefined, tokens.access_token)).status === 401) {
          lag = performance.now() - start;
          break;
        }
      }
      console.log(`${format}: revoked on process A, refused by process B ${lag.toFixed(1)} ms after the revocation request began (goal ≤ 100 ms, bound 1 s)`);
      assert.ok(lag < 1_000, `${lag} ms`);
    });
  }

  test('login limits hold across the processes', async () => {
    for (const node of [a, b, a]) assert.equal((await login(node, 'opaque', TARGET, 'guess')).status, 400);
    for (const node of [b, a]) {
      const locked = await login(node, 'opaque', TARGET);
      assert.equal(locked.status, 429);
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
    }
  });

  test('cutting the database gives fast 503s on both processes, and both recover by themselves', async () => {
    await proxy.cut();
    for (const node of [a, b]) {
      const start = performance.now();
      const answer = await login(node, 'opaque');
      const ms = performance.now() - start;
      console.log(`database cut: ${node === a ? 'A' : 'B'} answered ${answer.status} in ${ms.toFixed(0)} ms`);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error, 'temporarily_unavailable');
      assert.ok(ms < 2_000);
      assert.equal((await call(node, 'GET', '/readyz')).status, 503);
      assert.equal((await call(node, 'GET', '/healthz')).status, 200);
    }
    await proxy.restore();
    const start = performance.now();
    for (const node of [a, b]) {
      while ((await call(node, 'GET', '/readyz')).status !== 200) {
        assert.ok(performance.now() - start < 10_000, 'recovered within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal((await login(node, 'opaque')).status, 200);
    }
    console.log(`database back: both processes ready and issuing again after ${(performance.now() - start).toFixed(0)} ms`);
  });

  test('SIGTERM drains and stops both processes with exit code 0', async () => {
    const codes = Promise.all([exited(a.child), exited(b.child)]);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    assert.deepEqual(await codes, [0, 0]);
  });
});

