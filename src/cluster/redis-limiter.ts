import { Redis } from 'ioredis';
import type { Limit, Limiter } from '../core/rate-limit.js';

/*
 * take: KEYS are the limits' keys, ARGV[1] the window in ms and ARGV[1 + i]
 * the limit of KEYS[i]. If any key is full, counts none and returns the
 * longest wait in seconds; else counts one attempt on each (the window starts
 * with a key's first attempt) and returns 0. One script, so check and count
 * are one atomic step across every node.
 */
const TAKE = `
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 0 and count >= tonumber(ARGV[i + 1]) then
    local left = redis.call('PTTL', key)
    local seconds = 1
    if left >= 1000 then seconds = math.ceil(left / 1000) end
    if seconds > wait then wait = seconds end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 0`;

/* release: gives back one attempt of each of the first ARGV[1] KEYS, and deletes the rest. */
const RELEASE = `
local refunds = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= refunds then
    local count = tonumber(redis.call('GET', key) or '0')
    if count > 0 then redis.call('DECR', key) end
  else
    redis.call('DEL', key)
  end
end
return 0`;

/** The scripts, sent once and then called by their SHA-1 (ioredis sends the text again if Redis lost it). */
interface Scripts {
  tokendTake(keyCount: number, ...keysThenArgs: Array<string | number>): Promise<number>;
  tokendRelease(keyCount: number, ...keysThenArgs: Array<string | number>): Promise<number>;
}

/**
 * Login limits shared by every node (SPEC §9, §10). Taking every limit of an
 * attempt is one round trip, and so is giving them back. If Redis cannot
 * answer, the node falls back to its own in-memory counts rather than refusing
 * every login or letting every guess through: limits then hold per node until
 * Redis is back.
 */
export class RedisLimiter implements Limiter {
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: Redis,
    private readonly fallback: Limiter,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly prefix = 'tokend:limit:',
  ) {
    redis.defineCommand('tokendTake', { lua: TAKE });
    redis.defineCommand('tokendRelease', { lua: RELEASE });
    this.scripts = redis as unknown as Scripts;
  }

  /**
   * Commands issued in the same turn of the event loop go to Redis in one
   * write (auto-pipelining): the logins a hashing thread answers together
   * release their limits together.
   */
  static connect(url: string, fallback: Limiter, onError?: (error: unknown) => void): RedisLimiter {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 1_000, enableOfflineQueue: false, enableAutoPipelining: true });
    redis.on('error', (error) => onError?.(error));
    return new RedisLimiter(redis, fallback, onError);
  }

  async take(limits: readonly Limit[], windowSeconds: number): Promise<number> {
    if (limits.length === 0) return 0;
    return this.orFallback(
      async () => {
        const keys = limits.map(({ key }) => this.prefix + key);
        return Number(await this.scripts.tokendTake(keys.length, ...keys, windowSeconds * 1000, ...limits.map(({ limit }) => limit)));
      },
      () => this.fallback.take(limits, windowSeconds),
    );
  }

  async release(refund: readonly string[], reset: readonly string[] = []): Promise<void> {
    if (refund.length + reset.length === 0) return;
    await this.orFallback(
      async () => {
        const keys = [...refund, ...reset].map((key) => this.prefix + key);
        await this.scripts.tokendRelease(keys.length, ...keys, refund.length);
      },
      () => this.fallback.release(refund, reset),
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
