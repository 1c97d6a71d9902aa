import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { RedisBus } from '../../src/cluster/redis-bus.js';
import { RedisLimiter } from '../../src/cluster/redis-limiter.js';
import { MemoryLimiter } from '../../src/core/rate-limit.js';
import { Redis } from 'ioredis';
import { ensureDefaultApp } from '../../src/core/apps.js';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import type { Core } from '../../src/core/context.js';
import { createCore } from '../../src/core/create.js';
import { buildApp } from '../../src/http/app.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { ADMIN_TOKEN, ISSUER } from './harness.js';
import { createTestDatabase } from './postgres.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const REDIS_URL = process.env.TOKEND_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A channel of the test's own, so suites running at once never hear each other. */
export const testChannel = (): string => `tokend:test:${randomBytes(6).toString('hex')}`;

export interface Node {
  core: Core;
  app: FastifyInstance;
  bus: RedisBus;
  store: Store;
  lags: number[];
  close(): Promise<void>;
}

/** One tokend node in this process: its own pool on the shared database and its own Redis connections. */
export async function startNode(options: { databaseUrl: string; redisUrl?: string; channel: string; clock: Clock; perUser?: number }): Promise<Node> {
  const store = openPostgresStore(options.databaseUrl);
  await store.migrate();
  const lags: number[] = [];
  const bus = await RedisBus.connect({ url: options.redisUrl ?? REDIS_URL, channel: options.channel, onLag: (ms) => lags.push(ms) });
  // The limiter reaches Redis directly: the proxy a test may put before `redisUrl` is for the revocation bus.
  const limiterRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  limiterRedis.on('error', () => {});
  await new Promise<void>((resolve) => (limiterRedis.status === 'ready' ? resolve() : limiterRedis.once('ready', () => resolve())));
  const limiter = new RedisLimiter(limiterRedis, new MemoryLimiter(options.clock), () => {}, `${options.channel}:limit:`);
  const core = await createCore({
    settings: { issuer: ISSUER, env: 'production', adminToken: ADMIN_TOKEN, loginLimits: { perUser: options.perUser ?? 1000, perIp: 1000, windowSeconds: 60 } },
    store,
    clock: options.clock,
    bus,
    limiter,
  });
  await ensureDefaultApp(core);
  const app = await buildApp({ core, logLevel: 'silent' });
  await app.ready();
  return {
    core,
    app,
    bus,
    store,
    lags,
    async close() {
      await app.close();
      await bus.close();
      await limiter.close();
      await store.close();
    },
  };
}

/**
 * Two nodes on one fresh Postgres database and one Redis channel; node B
 * reaches Redis through a proxy the test can cut. `admin` POSTs JSON to
 * node A's operator API.
 */
export interface Pair {
  a: Node;
  b: Node;
  clock: ManualClock;
  proxy: TcpProxy;
  admin(url: string, body: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startPair(options: { perUser?: number } = {}): Promise<Pair> {
  const database = await createTestDatabase();
  const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
  const channel = testChannel();
  const clock = new ManualClock(Date.now());
  const perUser = options.perUser !== undefined ? { perUser: options.perUser } : {};
  const a = await startNode({ databaseUrl: database.url, channel, clock, ...perUser });
  const b = await startNode({ databaseUrl: database.url, channel, clock, ...perUser, redisUrl: `redis://127.0.0.1:${proxy.port}` });
  return {
    a,
    b,
    clock,
    proxy,
    admin: (url, body) =>
      a.app.inject({ method: 'POST', url: `/admin/v1${url}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
    async close() {
      await a.close();
      await b.close();
      await proxy.close();
      await database.drop();
    },
  };
}
