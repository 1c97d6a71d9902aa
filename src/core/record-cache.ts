import type { RevocationBus } from '../cluster/bus.js';
import type { Store } from '../store/store.js';
import type { App } from './model.js';

/**
 * Apps by id and by client_id, so authenticating a client or verifying a
 * token needs no store read for its app. Every change to an app (policy,
 * secret, deletion) is published on the bus by the publishing store, and
 * drops it here on every node; while the bus cannot prove delivery, this is
 * bypassed like the verification cache. Unknown apps are never cached.
 */
export class AppCache {
  private readonly byId = new Map<string, App>();
  private readonly byClientId = new Map<string, App>();
  /** Bumped by every change: a store read that began before one must not fill the cache after it. */
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly bus: RevocationBus,
    private readonly maxEntries = 10_000,
  ) {
    bus.onEvent((event) => {
      if (event.scope === 'app') {
        this.generation += 1;
        this.forget(this.byId.get(event.id));
      } else if (event.scope === 'all') {
        this.clear();
      }
    });
    bus.onTrustChange(() => this.clear());
  }

  async findById(id: string): Promise<App | null> {
    const hit = this.bus.trusted ? this.byId.get(id) : undefined;
    if (hit !== undefined) return hit;
    const mark = this.generation;
    return this.remember(await this.store.findAppById(id), mark);
  }

  async findByClientId(clientId: string): Promise<App | null> {
    const hit = this.bus.trusted ? this.byClientId.get(clientId) : undefined;
    if (hit !== undefined) return hit;
    const mark = this.generation;
    return this.remember(await this.store.findAppByClientId(clientId), mark);
  }

  private remember(app: App | null, mark: number): App | null {
    if (app === null || !this.bus.trusted || mark !== this.generation) return app;
    if (this.byId.size >= this.maxEntries) this.clear();
    this.byId.set(app.id, app);
    this.byClientId.set(app.clientId, app);
    return app;
  }

  private forget(app: App | undefined): void {
    if (app === undefined) return;
    this.byId.delete(app.id);
    this.byClientId.delete(app.clientId);
  }

  private clear(): void {
    this.generation += 1;
    this.byId.clear();
    this.byClientId.clear();
  }
}
