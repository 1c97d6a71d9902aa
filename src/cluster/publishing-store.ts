import type { App, User } from '../core/model.js';
import { digestOfKey } from '../core/tokens.js';
import type { AppPatch, Rotation, RotationResult, Store } from '../store/store.js';
import type { RevocationBus } from './bus.js';
import type { RevocationEvent } from './events.js';

/**
 * The store, plus: every verb that revokes or changes what a verification
 * depends on publishes it on the bus once it has committed. Publishing here,
 * under the core, means no caller can forget to.
 */
export function publishingStore(store: Store, bus: RevocationBus): Store {
  const after = async <T>(work: Promise<T>, event: RevocationEvent): Promise<T> => {
    const result = await work;
    bus.publish(event);
    return result;
  };
  return Object.assign(Object.create(store) as Store, {
    updateApp: (id: string, patch: AppPatch): Promise<App | null> => after(store.updateApp(id, patch), { scope: 'app', id }),
    deleteApp: (id: string, at: number): Promise<boolean> => after(store.deleteApp(id, at), { scope: 'app', id }),
    setUserDisabled: (id: number, disabled: boolean, at: number): Promise<User | null> =>
      after(store.setUserDisabled(id, disabled, at), { scope: 'user', id }),
    setUserPassword: (id: number, hash: string, at: number, keep: string | null): Promise<User | null> =>
      after(store.setUserPassword(id, hash, at, keep), { scope: 'user', id }),
    deleteUser: (id: number, at: number): Promise<boolean> => after(store.deleteUser(id, at), { scope: 'user', id }),
    revokeSession: (id: string, at: number): Promise<boolean> => after(store.revokeSession(id, at), { scope: 'session', id }),
    revokeToken: (id: string, at: number): Promise<boolean> => after(store.revokeToken(id, at), { scope: 'token', id }),
    revokeMasterKey: (id: string, at: number): Promise<boolean> => after(store.revokeMasterKey(id, at), { scope: 'master-key', id }),
    // A rotated refresh token is no longer live: introspection must not answer it from a cache.
    rotateRefreshToken: (rotation: Rotation): Promise<RotationResult> => after(store.rotateRefreshToken(rotation), { scope: 'token-hash', hash: digestOfKey(rotation.hash) }),
  } satisfies Partial<Store>);
}
