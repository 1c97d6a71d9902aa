import type { Clock } from './clock.js';

/**
 * Counts failures per key in a fixed window. The in-memory implementation
 * serves one node; a Redis one shares the counts across nodes (SPEC §10).
 */
export interface Limiter {
  /** Seconds until `key` may try again, or 0 if it may try now. */
  blockedFor(key: string, limit: number): Promise<number>;
  /** Counts one failure for `key` in a window of `windowSeconds`. */
  fail(key: string, windowSeconds: number): Promise<void>;
  /** Forgets the failures of `key` (after a successful login). */
  reset(key: string): Promise<void>;
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

  async blockedFor(key: string, limit: number): Promise<number> {
    const window = this.live(key);
    if (window === undefined || window.count < limit) return 0;
    return Math.max(1, Math.ceil((window.endsAt - this.clock.now()) / 1000));
  }

  async fail(key: string, windowSeconds: number): Promise<void> {
    const window = this.live(key);
    if (window !== undefined) {
      window.count += 1;
      return;
    }
    if (this.windows.size >= this.maxKeys) this.sweep();
    this.windows.set(key, { count: 1, endsAt: this.clock.now() + windowSeconds * 1000 });
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
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
