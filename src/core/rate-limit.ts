import type { Clock } from './clock.js';

/** One limit an attempt counts against: at most `limit` attempts of `key` in a window. */
export interface Limit {
  key: string;
  limit: number;
}

/**
 * Counts attempts per key in a fixed window. The in-memory implementation
 * serves one node; a Redis one shares the counts across nodes (SPEC §10).
 */
export interface Limiter {
  /**
   * Counts one attempt against each of `limits` unless one of them is already
   * full: then none is counted, and the answer is the seconds to wait (the
   * longest of the full ones); else 0. Check and count are one step, so a
   * burst of parallel attempts cannot all pass the check before the first of
   * them is counted, and an attempt refused by one limit costs none of the others.
   */
  take(limits: readonly Limit[], windowSeconds: number): Promise<number>;
  /**
   * Gives back one attempt of each of `refund` that `take` counted and that
   * turned out not to be a failure, and forgets every attempt of each of
   * `reset` (a successful login clears its username's count). One step.
   */
  release(refund: readonly string[], reset?: readonly string[]): Promise<void>;
}

interface Window {
  count: number;
  endsAt: number;
}

export class MemoryLimiter implements Limiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  async take(limits: readonly Limit[], windowSeconds: number): Promise<number> {
    let wait = 0;
    for (const { key, limit } of limits) wait = Math.max(wait, this.wait(key, limit));
    if (wait === 0) for (const { key } of limits) this.count(key, windowSeconds);
    return wait;
  }

  async release(refund: readonly string[], reset: readonly string[] = []): Promise<void> {
    for (const key of refund) {
      const window = this.live(key);
      if (window !== undefined && window.count > 0) window.count -= 1;
    }
    for (const key of reset) this.windows.delete(key);
  }

  private wait(key: string, limit: number): number {
    const window = this.live(key);
    if (window === undefined || window.count < limit) return 0;
    return Math.max(1, Math.ceil((window.endsAt - this.clock.now()) / 1000));
  }

  private count(key: string, windowSeconds: number): void {
    const window = this.live(key);
    if (window !== undefined) {
      window.count += 1;
      return;
    }
    if (this.windows.size >= this.maxKeys) this.sweep();
    this.windows.set(key, { count: 1, endsAt: this.clock.now() + windowSeconds * 1000 });
  }

  private live(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window !== undefined && window.endsAt <= this.clock.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  /** Bounded memory: drop ended windows, and if that is not enough the oldest keys. */
  private sweep(): void {
    const now = this.clock.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
