import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalBus, type RevocationBus } from '../../src/cluster/bus.js';
import type { RevocationEvent } from '../../src/cluster/events.js';
import { RecordCache } from '../../src/core/record-cache.js';

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

test('while the bus cannot prove delivery, every lookup reads the store, and losing trust forgets everything', async () => {
  const store = table({ id: 'k1', hash: 'h1', revokedAt: null });
  const trust: Array<(trusted: boolean) => void> = [];
  const bus = {
    trusted: true,
    publish(_event: RevocationEvent) {},
    onEvent() {},
    onTrustChange(listener: (trusted: boolean) => void) {
      trust.push(listener);
    },
    async close() {},
  };
  const cache = cacheOn(bus);
  await cache.find('hash:h1', store.read('h1'));
  bus.trusted = false;
  for (const listener of trust) listener(false);
  await cache.find('hash:h1', store.read('h1'));
  await cache.find('hash:h1', store.read('h1'));
  assert.equal(store.reads.count, 3);
  bus.trusted = true;
  for (const listener of trust) listener(true);
  await cache.find('hash:h1', store.read('h1'));
  await cache.find('hash:h1', store.read('h1'));
  assert.equal(store.reads.count, 4, 'kept again once trusted');
});
