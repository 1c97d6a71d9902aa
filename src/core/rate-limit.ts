import type { Clock } from './clock.js';

/**
 * Counts failures per key in a fixed window. The in-memory implementation
 * serves one node; a Redis one shares the counts across nodes (SPEC §10).
 */
export interface Limiter {
  /** Forgets the failures of `key` (after a successful login). */
  reset(key: string): Promise<void>;
  /**
   * Counts one attempt for `key` unless `limit` are already counted in its
   * window: 0 if counted, else the seconds to wait. Check and count are one
   * step, so a burst of parallel attempts cannot all pass the check before the
   * first of them is counted.
   */
  take(key: string, limit: number, windowSeconds: number): Promise<number>;
  /** Gives back one attempt counted by `take` that turned out not to be a failure. */
  refund(key: string): Promise<void>;
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

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async take(key: string, limit: number, windowSeconds: number): Promise<number> {
    const wait = this.wait(key, limit);
    if (wait === 0) this.count(key, windowSeconds);
    return wait;
  }

  async refund(key: string): Promise<void> {
    const window = this.live(key);
    if (window !== undefined && window.count > 0) window.count -= 1;
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
