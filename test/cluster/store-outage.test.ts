import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, test } from 'node:test';
import { mintSecret } from '../../src/core/tokens.js';
import { createUser, json, login, startHarness, type Harness } from '../helpers/harness.js';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/*
 * SPEC §10: if the database goes away, requests fail fast with 503 in their
 * door's error shape, and service resumes by itself when it returns. The
 * database is cut with a TCP proxy of the test's own between tokend and Postgres.
 */

describe('the database goes away and comes back', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let h: Harness;
  let user: { id: number; username: string; password: string };

  before(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(POSTGRES_ADMIN_URL).port || 5432));
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    viaProxy.hostname = '127.0.0.1';
    h = await startHarness({ database: 'postgres', postgresUrl: viaProxy.toString(), postgres: { poolSize: 4, statementTimeoutMs: 1_000, connectTimeoutMs: 500 } });
    user = await createUser(h);
  });
  after(async () => {
    await h?.close().catch(() => {});
    await proxy?.close();
    await database?.drop();
  });

  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const start = performance.now();
    const result = await work();
    return [result, performance.now() - start];
  };

  test('every door answers 503 within 2 s in its own error shape, never a 500, and recovers by itself', async () => {
    const before = await login(h, user);
    await proxy.cut();

    const doors: Array<[string, () => Promise<LightMyRequestResponse>, (body: any) => void]> = [
      ['/oauth/token', () => h.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ grant_type: 'password', username: user.username, password: user.password, client_id: h.clientId, client_secret: h.clientSecret }) }), (b) => assert.equal(b.error, 'temporarily_unavailable')],
      ['/oauth/introspect', () => h.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: before.refresh_token, client_id: h.clientId, client_secret: h.clientSecret }) }), (b) => assert.equal(b.error, 'temporarily_unavailable')],
      ['/api/auth/v1/access_tokens', () => h.app.inject({ method: 'POST', url: '/api/auth/v1/access_tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: user.username, password: user.password }) }), (b) => assert.equal(b.errors[0].status, '503')],
      ['/v1/oauth/', () => h.app.inject({ method: 'POST', url: `/v1/oauth/?username=${user.username}&password=x` }), (b) => assert.equal(b.success, false)],
      ['/api/auth/v1.0/get_token/', () => h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${mintSecret('masterKey')}` } }), (b) => assert.equal(typeof b.detail, 'string')],
      ['/readyz', () => h.app.inject({ method: 'GET', url: '/readyz' }), (b) => assert.equal(b.error, 'temporarily_unavailable')],
    ];
    for (const [door, request, shape] of doors) {
      const [response, ms] = await timed(request);
      assert.equal(response.statusCode, 503, `${door}: ${response.body}`);
      assert.ok(ms < 2_000, `${door} took ${ms} ms`);
      shape(json(response));
      if (door !== '/readyz') assert.equal(response.headers['retry-after'], '1', door);
      console.log(`store down: ${door} answered 503 in ${ms.toFixed(0)} ms`);
    }
    assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the process itself is up');

    await proxy.restore();
    const [, recovered] = await timed(async () => {
      for (let i = 0; i < 100; i++) {
        if ((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail('no recovery within 10 s');
    });
    console.log(`store back: ready again after ${recovered.toFixed(0)} ms`);
    const after = await login(h, user);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${after.access_token}` } })).statusCode, 200);
  });
});
