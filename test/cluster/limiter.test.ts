import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLimiter } from '../../src/cluster/redis-limiter.js';
import { ManualClock } from '../../src/core/clock.js';
import { MemoryLimiter, type Limiter } from '../../src/core/rate-limit.js';
import { REDIS_URL } from '../helpers/cluster.js';

/*
 * The login limits' contract (SPEC §9, §10), held by both limiters: the
 * in-memory one of a single node and the one shared through a real Redis.
 * Every attempt counts against all its limits or, if one is full, against
 * none; giving back and forgetting are exact; windows end.
 */

interface Subject {
  limiter: Limiter;
  /** Lets `ms` pass for the limiter's windows. */
  elapse(ms: number): Promise<void>;
}

const redisConnection = async (url = REDIS_URL): Promise<Redis> => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  return redis;
};

const memory = (): Subject => {
  const clock = new ManualClock();
  return { limiter: new MemoryLimiter(clock), elapse: async (ms) => clock.advance(ms) };
};

const redises: Redis[] = [];
after(async () => {
  for (const redis of redises) await redis.quit();
});

/** A limiter on real Redis under a prefix of its own; a second one on another connection shares its counts, as two nodes do. */
const shared = async (prefix = `test:${randomUUID()}:`): Promise<Subject & { prefix: string }> => {
  const redis = await redisConnection();
  redises.push(redis);
  const limiter = new RedisLimiter(redis, new MemoryLimiter(new ManualClock()), (error) => assert.fail(`Redis failed: ${String(error)}`), prefix);
  return { limiter, prefix, elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
};

for (const [name, make] of [
  ['in memory', async () => memory()],
  ['on Redis', () => shared()],
] as const) {
  describe(`the login limiter ${name}`, () => {
    let subject: Subject;
    before(async () => {
      subject = await make();
    });

    test('counts attempts up to the limit, then answers the seconds left in the window', async () => {
      const { limiter } = subject;
      for (let i = 0; i < 3; i += 1) assert.equal(await limiter.take([{ key: 'a', limit: 3 }], 60), 0);
      const wait = await limiter.take([{ key: 'a', limit: 3 }], 60);
      assert.ok(wait >= 59 && wait <= 60, `waits ${wait} s`);
    });

    test('an attempt refused by one limit is counted against none of the others', async () => {
      const { limiter } = subject;
      assert.equal(await limiter.take([{ key: 'full', limit: 1 }], 30), 0);
      for (let i = 0; i < 5; i += 1) assert.ok((await limiter.take([{ key: 'open', limit: 2 }, { key: 'full', limit: 1 }], 30)) > 0);
      // 'open' was never counted: both of its attempts are still there.
      assert.equal(await limiter.take([{ key: 'open', limit: 2 }], 30), 0);
      assert.equal(await limiter.take([{ key: 'open', limit: 2 }], 30), 0);
      assert.ok((await limiter.take([{ key: 'open', limit: 2 }], 30)) > 0);
    });

    test('the wait is the longest of the full limits', async () => {
      const { limiter } = subject;
      assert.equal(await limiter.take([{ key: 'short', limit: 1 }], 10), 0);
      assert.equal(await limiter.take([{ key: 'long', limit: 1 }], 100), 0);
      const wait = await limiter.take([{ key: 'short', limit: 1 }, { key: 'long', limit: 1 }], 10);
      assert.ok(wait >= 99 && wait <= 100, `waits ${wait} s`);
    });

    test('release gives back one attempt of each refunded key, never below none, and forgets each reset key', async () => {
      const { limiter } = subject;
      const both = [{ key: 'user', limit: 2 }, { key: 'ip', limit: 2 }];
      assert.equal(await limiter.take(both, 60), 0);
      assert.equal(await limiter.take(both, 60), 0);
      assert.ok((await limiter.take(both, 60)) > 0);
      await limiter.release(['ip'], ['user']);
      // 'user' is forgotten (2 more), 'ip' has one back (1 more).
      assert.equal(await limiter.take(both, 60), 0);
      assert.ok((await limiter.take(both, 60)) > 0);
      assert.equal(await limiter.take([{ key: 'user', limit: 2 }], 60), 0);
      await limiter.release(['never-taken', 'never-taken']);
      assert.equal(await limiter.take([{ key: 'never-taken', limit: 1 }], 60), 0);
      assert.ok((await limiter.take([{ key: 'never-taken', limit: 1 }], 60)) > 0);
    });

    test('a window ends: its key counts afresh', async () => {
      const { limiter, elapse } = subject;
      assert.equal(await limiter.take([{ key: 'brief', limit: 1 }], 1), 0);
      assert.equal(await limiter.take([{ key: 'brief', limit: 1 }], 1), 1);
      await elapse(1_100);
      assert.equal(await limiter.take([{ key: 'brief', limit: 1 }], 1), 0);
    });

    test('nothing to take or give back is no attempt', async () => {
      const { limiter } = subject;
      assert.equal(await limiter.take([], 60), 0);
      await limiter.release([], []);
    });
  });
}

describe('the login limiter on Redis, between nodes', () => {
  test('parallel attempts on two connections are counted exactly once each: no more than the limit pass', async () => {
    const first = await shared();
    const second = await shared(first.prefix);
    const attempt = (limiter: Limiter) => limiter.take([{ key: 'user', limit: 10 }, { key: 'ip', limit: 1_000 }], 60);
    const waits = await Promise.all(Array.from({ length: 60 }, (_, i) => attempt(i % 2 === 0 ? first.limiter : second.limiter)));
    assert.equal(waits.filter((wait) => wait === 0).length, 10);
    // Only the ten counted attempts count against the IP.
    const redis = redises.at(-1)!;
    assert.equal(await redis.get(`${first.prefix}ip`), '10');
    assert.equal(await redis.get(`${first.prefix}user`), '10');
  });

  test('a script Redis has forgotten is sent again', async () => {
    const { limiter } = await shared();
    assert.equal(await limiter.take([{ key: 'k', limit: 1 }], 60), 0);
    await redises.at(-1)!.script('FLUSH');
    assert.ok((await limiter.take([{ key: 'k', limit: 1 }], 60)) > 0);
    await limiter.release(['k']);
    assert.equal(await limiter.take([{ key: 'k', limit: 1 }], 60), 0);
  });

  test('with Redis out of reach, the node counts on its own instead of failing the login', async () => {
    const errors: unknown[] = [];
    const unreachable = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    unreachable.on('error', () => {});
    const limiter = new RedisLimiter(unreachable, new MemoryLimiter(new ManualClock()), (error) => errors.push(error));
    assert.equal(await limiter.take([{ key: 'u', limit: 1 }], 60), 0);
    assert.ok((await limiter.take([{ key: 'u', limit: 1 }], 60)) > 0);
    await limiter.release([], ['u']);
    assert.equal(await limiter.take([{ key: 'u', limit: 1 }], 60), 0);
    unreachable.disconnect();
  });
});
