import type { Store } from '../store/store.js';
import { AuditLog } from './audit.js';
import { systemClock, type Clock } from './clock.js';
import type { Core, CoreSettings } from './context.js';
import { KeyRing } from './keys.js';
import { PasswordHasher } from './passwords.js';
import { MemoryLimiter, type Limiter } from './rate-limit.js';
import { UsageRecorder } from './usage.js';

export interface CoreOptions {
  settings: CoreSettings;
  store: Store;
  clock?: Clock;
  limiter?: Limiter;
  hashing?: { concurrency: number; queue: number };
  onError?: (error: unknown) => void;
}

/** Wires the core's parts and loads the signing keys (making them on first start). */
export async function createCore(options: CoreOptions): Promise<Core> {
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? (() => {});
  const keys = new KeyRing(options.store, clock);
  await keys.load();
  return {
    settings: Object.freeze({ ...options.settings }),
    store: options.store,
    clock,
    limiter: options.limiter ?? new MemoryLimiter(clock),
    hasher: new PasswordHasher(options.hashing ?? { concurrency: 2, queue: 64 }),
    keys,
    audit: new AuditLog(options.store, clock, onError),
    usage: new UsageRecorder(options.store, 15_000, onError),
  };
}
