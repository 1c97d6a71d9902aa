import { Redis } from 'ioredis';
import type { Limiter } from '../core/rate-limit.js';

/*
 * take: count one attempt unless `limit` are already counted; the window
 * starts with the first attempt. Returns 0, or the seconds left in the window.
 * One script, so check and count are one atomic step across every node.
 */
const TAKE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if count > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  local left = redis.call('PTTL', KEYS[1])
  if left < 1000 then return 1 end
  return math.ceil(left / 1000)
end
return 0`;

const REFUND = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

/**
 * Login limits shared by every node (SPEC §9, §10). If Redis cannot answer,
 * the node falls back to its own in-memory counts rather than refusing every
 * login or letting every guess through: limits then hold per node until Redis
 * is back.
 */
export class RedisLimiter implements Limiter {
  constructor(
    private readonly redis: Redis,
    private readonly fallback: Limiter,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly prefix = 'tokend:limit:',
  ) {}

  static connect(url: string, fallback: Limiter, onError?: (error: unknown) => void): RedisLimiter {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 1_000, enableOfflineQueue: false });
    redis.on('error', (error) => onError?.(error));
    return new RedisLimiter(redis, fallback, onError);
  }

  async take(key: string, limit: number, windowSeconds: number): Promise<number> {
    return this.orFallback(
      async () => Number(await this.redis.eval(TAKE, 1, this.prefix + key, limit, windowSeconds * 1000)),
      () => this.fallback.take(key, limit, windowSeconds),
    );
  }

  async refund(key: string): Promise<void> {
    await this.orFallback(
      async () => void (await this.redis.eval(REFUND, 1, this.prefix + key)),
      () => this.fallback.refund(key),
    );
  }

  async reset(key: string): Promise<void> {
    await this.orFallback(
      async () => void (await this.redis.del(this.prefix + key)),
      () => this.fallback.reset(key),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async orFallback<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') return local();
    try {
      return await shared();
    } catch (error) {
      this.onError(error);
      return local();
    }
  }
}
