import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalBus, type RevocationBus } from '../../src/cluster/bus.js';
import type { RevocationEvent } from '../../src/cluster/events.js';
import type { App } from '../../src/core/model.js';
import { AppCache, RecordCache } from '../../src/core/record-cache.js';
import type { Store } from '../../src/store/store.js';

/*
 * The cache under apps and master keys, on its own: what it keeps, and the
 * changes that must never leave a stale record behind.
 */

interface Key {
  id: string;
  hash: string;
  revokedAt: number | null;
}

/** A store of one table whose reads are counted, and can be held open to race a change against. */
function table(...rows: Key[]) {
  const reads = { count: 0 };
  let gate: Promise<void> | null = null;
  return {
    rows,
    reads,
    hold(): () => void {
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      return () => {
        gate = null;
        open();
      };
    },
    read: (hash: string) => async (): Promise<Key | null> => {
      reads.count += 1;
      const seen = rows.find((row) => row.hash === hash) ?? null;
      const snapshot = seen === null ? null : { ...seen };
      if (gate !== null) await gate;
      return snapshot;
    },
  };
}

const cacheOn = (bus: RevocationBus) => new RecordCache<Key>(bus, 'master-key', (key) => [`hash:${key.hash}`]);

test('a record is read once, then kept under each of its keys; what the store lacks is read every time', async () => {
  const store = table({ id: 'k1', hash: 'h1', revokedAt: null });
  const cache = cacheOn(new LocalBus());
  assert.equal((await cache.find('hash:h1', store.read('h1')))?.id, 'k1');
  assert.equal((await cache.find('hash:h1', store.read('h1')))?.id, 'k1');
  assert.equal((await cache.find('id:k1', store.read('never')))?.id, 'k1', 'found by its id without a read');
  assert.equal(store.reads.count, 1);
  assert.equal(await cache.find('hash:h2', store.read('h2')), null);
  assert.equal(await cache.find('hash:h2', store.read('h2')), null);
  assert.equal(store.reads.count, 3);
});

test('a change published for a record drops it under every key; a change to another record does not', async () => {
  const store = table({ id: 'k1', hash: 'h1', revokedAt: null }, { id: 'k2', hash: 'h2', revokedAt: null });
  const bus = new LocalBus();
  const cache = cacheOn(bus);
  await cache.find('hash:h1', store.read('h1'));
  await cache.find('hash:h2', store.read('h2'));
  store.rows[0]!.revokedAt = 5;
  bus.publish({ scope: 'master-key', id: 'k1' });
  bus.publish({ scope: 'app', id: 'k2' }); // another scope: not a change to a master key
  assert.equal((await cache.find('hash:h1', store.read('h1')))?.revokedAt, 5);
  assert.equal((await cache.find('hash:h2', store.read('h2')))?.id, 'k2');
  assert.equal(store.reads.count, 3);
  bus.publish({ scope: 'all' });
  await cache.find('hash:h2', store.read('h2'));
  assert.equal(store.reads.count, 4);
});

test('a read that began before a change answers its caller but is not kept', async () => {
  const store = table({ id: 'k1', hash: 'h1', revokedAt: null });
  const bus = new LocalBus();
  const cache = cacheOn(bus);
  const open = store.hold();
  const before = cache.find('hash:h1', store.read('h1'));
  store.rows[0]!.revokedAt = 5;
  bus.publish({ scope: 'master-key', id: 'k1' });
  open();
  assert.equal((await before)?.revokedAt, null, 'the read saw the row as it was');
  assert.equal((await cache.find('hash:h1', store.read('h1')))?.revokedAt, 5, 'and the next request reads it again');
  assert.equal(store.reads.count, 2);
});

/** A bus whose trust the test sets: `trust(false)` is a lost connection, told to every listener. */
function bus() {
  const listeners: Array<(trusted: boolean) => void> = [];
  const it = {
    trusted: true,
    publish(_event: RevocationEvent) {},
    onEvent() {},
    onTrustChange(listener: (trusted: boolean) => void) {
      listeners.push(listener);
    },
    async close() {},
    trust(trusted: boolean) {
      it.trusted = trusted;
      for (const listener of listeners) listener(trusted);
    },
  };
  return it;
}

test('while the bus cannot prove delivery, every lookup reads the store, and losing trust forgets everything', async () => {
  const store = table({ id: 'k1', hash: 'h1', revokedAt: null });
  const untrusty = bus();
  const cache = cacheOn(untrusty);
  await cache.find('hash:h1', store.read('h1'));
  untrusty.trust(false);
  await cache.find('hash:h1', store.read('h1'));
  await cache.find('hash:h1', store.read('h1'));
  assert.equal(store.reads.count, 3);
  untrusty.trust(true);
  await cache.find('hash:h1', store.read('h1'));
  await cache.find('hash:h1', store.read('h1'));
  assert.equal(store.reads.count, 4, 'kept again once trusted');
});

/** An app cache over a one-app store whose reads are counted: only the two reads the cache makes are needed. */
function appCacheOn(bus: RevocationBus, app: { id: string; clientId: string }) {
  const reads = { count: 0 };
  const read = async () => {
    reads.count += 1;
    return { ...app } as unknown as App;
  };
  const store = { findAppById: read, findAppByClientId: read } as unknown as Store;
  return { cache: new AppCache(store, bus), reads };
}

test('a remembered client authentication holds while the app record it was checked against is kept, and not after a change', async () => {
  const bus = new LocalBus();
  const { cache, reads } = appCacheOn(bus, { id: 'a1', clientId: 'app_one' });
  const app = (await cache.findByClientId('app_one'))!;
  assert.equal(cache.authenticatedBy('digest-1'), undefined, 'nothing remembered yet');
  cache.authenticatedWith('digest-1', app);
  assert.equal(cache.authenticatedBy('digest-1'), app);
  assert.equal(cache.authenticatedBy('digest-2'), undefined, 'another digest is not remembered');
  bus.publish({ scope: 'app', id: 'a1' }); // its secret rotated, say
  assert.equal(cache.authenticatedBy('digest-1'), undefined, 'the record it was checked against is gone');
  const again = (await cache.findByClientId('app_one'))!;
  assert.notEqual(again, app);
  assert.equal(cache.authenticatedBy('digest-1'), undefined, 'a new record of the app vouches for nothing checked against the old');
  cache.authenticatedWith('digest-1', app);
  assert.equal(cache.authenticatedBy('digest-1'), undefined, 'an app record no longer kept is not remembered');
  assert.equal(reads.count, 2);
});

test('while the bus cannot prove delivery, no client authentication is remembered or recalled', async () => {
  const untrusty = bus();
  const { cache } = appCacheOn(untrusty, { id: 'a1', clientId: 'app_one' });
  const app = (await cache.findByClientId('app_one'))!;
  cache.authenticatedWith('digest-1', app);
  untrusty.trusted = false; // not yet told to the listeners: the app record is still held
  assert.equal(cache.authenticatedBy('digest-1'), undefined);
  cache.authenticatedWith('digest-2', app);
  untrusty.trusted = true;
  assert.equal(cache.authenticatedBy('digest-2'), undefined, 'nothing was remembered while untrusted');
  cache.authenticatedWith('digest-3', app);
  assert.equal(cache.authenticatedBy('digest-3'), app);
  untrusty.trust(false);
  untrusty.trust(true);
  assert.equal(cache.authenticatedBy('digest-3'), undefined, 'losing trust forgot the record it was checked against');
});
