import { LocalBus, type RevocationBus } from '../cluster/bus.js';
import { publishingStore } from '../cluster/publishing-store.js';
import type { Store } from '../store/store.js';
import { AuditLog } from './audit.js';
import { systemClock, type Clock } from './clock.js';
import type { Core, CoreSettings } from './context.js';
import { KeyRing } from './keys.js';
import { PasswordHasher } from './passwords.js';
import { CoreObserver } from './observer.js';
import { MemoryLimiter, type Limiter } from './rate-limit.js';
import { AppCache, MasterKeyCache } from './record-cache.js';
import { UsageRecorder } from './usage.js';
import { DEFAULT_CACHE_OPTIONS, VerificationCache, type CacheOptions } from './verification-cache.js';

export interface CoreOptions {
  settings: CoreSettings;
  store: Store;
  clock?: Clock;
  limiter?: Limiter;
  hashing?: { concurrency: number; queue: number };
  onError?: (error: unknown) => void;
  /** How revocations reach other nodes; a LocalBus (this node only) by default. */
  bus?: RevocationBus;
  cache?: Partial<CacheOptions>;
  /** Made before the core when something built earlier reports into it (the Redis bus's fan-out lag). */
  observer?: CoreObserver;
}

/** Wires the core's parts and loads the signing keys (making them on first start). */
export async function createCore(options: CoreOptions): Promise<Core> {
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? (() => {});
  const bus = options.bus ?? new LocalBus();
  // Every revocation the core makes is published once the store has committed it.
  const store = publishingStore(options.store, bus);
  const keys = new KeyRing(store, clock);
  await keys.load();
  return {
    settings: Object.freeze({ ...options.settings }),
    store,
    bus,
    cache: new VerificationCache(clock, bus, { ...DEFAULT_CACHE_OPTIONS, ...options.cache }),
    apps: new AppCache(store, bus),
    masterKeys: new MasterKeyCache(store, bus),
    clock,
    limiter: options.limiter ?? new MemoryLimiter(clock),
    hasher: new PasswordHasher(options.hashing ?? { concurrency: 2, queue: 64 }),
    keys,
    audit: new AuditLog(store, clock, onError),
    usage: new UsageRecorder(store, 60_000, onError),
    observer: options.observer ?? new CoreObserver(onError),
  };
}
