import type { RevocationBus } from '../cluster/bus.js';
import type { Store } from '../store/store.js';
import type { Maybe } from './maybe.js';
import type { App, MasterKey } from './model.js';

/**
 * Records of the store that requests present over and over (apps, master
 * keys), kept so that presenting one needs no store read. Every change to one
 * is published on the bus by the publishing store, and drops it here on every
 * node; while the bus cannot prove delivery, the cache is bypassed, like the
 * verification cache. What the store does not hold is never cached.
 */
export class RecordCache<R extends { id: string }> {
  /** Each record under `id:<id>` and under every key `keysOf` gives it. */
  private readonly entries = new Map<string, R>();
  /** Bumped by every change: a store read that began before one must not fill the cache after it. */
  private generation = 0;

  constructor(
    private readonly bus: RevocationBus,
    /** The bus events that change such a record, by its id. */
    scope: 'app' | 'master-key',
    private readonly keysOf: (record: R) => string[],
    private readonly maxEntries = 10_000,
  ) {
    bus.onEvent((event) => {
      if (event.scope === scope) {
        this.generation += 1;
        this.forget(this.entries.get(`id:${event.id}`));
      } else if (event.scope === 'all') {
        this.clear();
      }
    });
    bus.onTrustChange(() => this.clear());
  }

  /** The record under `key`: at once when kept, or what `read` finds in the store (kept, if nothing changed meanwhile). */
  find(key: string, read: () => Promise<R | null>): Maybe<R | null> {
    return this.peek(key) ?? this.fill(read);
  }

  /** The record under `key` when it is kept, without reading the store. */
  peek(key: string): R | undefined {
    return this.bus.trusted ? this.entries.get(key) : undefined;
  }

  private async fill(read: () => Promise<R | null>): Promise<R | null> {
    const mark = this.generation;
    const record = await read();
    if (record === null || !this.bus.trusted || mark !== this.generation) return record;
    if (this.entries.size >= this.maxEntries) this.clear();
    for (const name of this.keysFor(record)) this.entries.set(name, record);
    return record;
  }

  private keysFor(record: R): string[] {
    return [`id:${record.id}`, ...this.keysOf(record)];
  }

  private forget(record: R | undefined): void {
    if (record !== undefined) for (const name of this.keysFor(record)) this.entries.delete(name);
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}

/** Client authentications remembered at most; past that the memory starts again (a node serves far fewer clients). */
const AUTHENTICATIONS_KEPT = 1_000;

/**
 * Apps by id and by client_id: authenticating a client or verifying a token
 * reads no app from the store. Beside them, the client authentications that
 * passed, by the SHA-256 of the credentials as presented (src/http/client-auth.ts).
 */
export class AppCache {
  private readonly records: RecordCache<App>;
  /** By digest: the app, and its key here (made once: a string's hash is computed at its first lookup, then kept). */
  private readonly authentications = new Map<string, { app: App; key: string }>();

  constructor(
    private readonly store: Store,
    bus: RevocationBus,
  ) {
    this.records = new RecordCache(bus, 'app', (app) => [`client:${app.clientId}`]);
  }

  /**
   * The app that credentials with this digest authenticated before, while the
   * record they were checked against is still the one kept: any change to the
   * app (its secret rotated, the app deleted or updated) replaces or drops that
   * record, on every node, and the memory with it. Undefined otherwise, and
   * whenever the cache is bypassed.
   */
  authenticatedBy(digest: string): App | undefined {
    const remembered = this.authentications.get(digest);
    if (remembered === undefined) return undefined;
    if (this.records.peek(remembered.key) === remembered.app) return remembered.app;
    this.authentications.delete(digest);
    return undefined;
  }

  /** Remembers that credentials with this digest authenticated `app`, if `app` is the record kept (else nothing would vouch for it later). */
  authenticatedWith(digest: string, app: App): void {
    const key = `client:${app.clientId}`;
    if (this.records.peek(key) !== app) return;
    if (this.authentications.size >= AUTHENTICATIONS_KEPT) this.authentications.clear();
    this.authentications.set(digest, { app, key });
  }

  findById(id: string): Maybe<App | null> {
    return this.records.find(`id:${id}`, () => this.store.findAppById(id));
  }

  findByClientId(clientId: string): Maybe<App | null> {
    return this.records.find(`client:${clientId}`, () => this.store.findAppByClientId(clientId));
  }
}

/** Master keys by hash: each get_token reads no key from the store (on Postgres, a round trip). */
export class MasterKeyCache {
  private readonly records: RecordCache<MasterKey>;

  constructor(
    private readonly store: Store,
    bus: RevocationBus,
  ) {
    this.records = new RecordCache(bus, 'master-key', (key) => [`hash:${key.hash}`]);
  }

  findByHash(hash: string): Maybe<MasterKey | null> {
    return this.records.find(`hash:${hash}`, () => this.store.findMasterKeyByHash(hash));
  }
}
