import type { Store } from '../store/store.js';
import type { AuditLog } from './audit.js';
import type { Clock } from './clock.js';
import type { KeyRing } from './keys.js';
import type { PasswordHasher } from './passwords.js';
import type { CoreObserver } from './observer.js';
import type { Limiter } from './rate-limit.js';
import type { UsageRecorder } from './usage.js';
import type { VerificationCache } from './verification-cache.js';
import type { AppCache, MasterKeyCache } from './record-cache.js';
import type { RevocationBus } from '../cluster/bus.js';

export interface CoreSettings {
  issuer: string;
  env: 'production' | 'development';
  adminToken: string | null;
  loginLimits: { perUser: number; perIp: number; windowSeconds: number };
}

/** Everything a core verb may need, passed explicitly: no globals, a clock tests can move. */
export interface Core {
  readonly settings: CoreSettings;
  readonly store: Store;
  readonly clock: Clock;
  readonly limiter: Limiter;
  readonly hasher: PasswordHasher;
  readonly keys: KeyRing;
  readonly audit: AuditLog;
  readonly usage: UsageRecorder;
  /** Revocations to and from every node; a LocalBus on a single node. */
  readonly bus: RevocationBus;
  readonly cache: VerificationCache;
  /** Apps by id and client_id, dropped with every change to them (on every node). */
  readonly apps: AppCache;
  /** Master keys by hash, dropped when one is revoked (on every node). */
  readonly masterKeys: MasterKeyCache;
  /** Verifications and fan-out lag, for whoever listens (metrics); nobody by default. */
  readonly observer: CoreObserver;
}

/** Who did something, as the audit log names them. */
export type Actor = `operator:${string}` | `app:${string}` | `user:${number}` | `master-key:${string}` | 'system' | 'anonymous';
