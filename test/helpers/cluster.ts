import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RedisBus } from '../../src/cluster/redis-bus.js';
import { RedisLimiter } from '../../src/cluster/redis-limiter.js';
import { MemoryLimiter } from '../../src/core/rate-limit.js';
import { Redis } from 'ioredis';
import { ensureDefaultApp } from '../../src/core/apps.js';
import type { Clock } from '../../src/core/clock.js';
import type { Core } from '../../src/core/context.js';
import { createCore } from '../../src/core/create.js';
import { buildApp } from '../../src/http/app.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { ADMIN_TOKEN, ISSUER } from './harness.js';

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
