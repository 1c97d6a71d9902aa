import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { InvalidRequest } from '../../src/core/errors.js';
import type { Token } from '../../src/core/model.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { migrations } from '../../src/store/migrations/index.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Rotation, Store } from '../../src/store/store.js';
import { createTestDatabase } from '../helpers/postgres.js';
import {
  DAY, MINUTE, T0, UNICODE, assertWalk, everything, ids, newApp, newMasterKey, newSession, newSigningKey, newToken, newUser, rotation, seeds,
  tempSqliteStore, uniqueId, walk,
} from './fixtures.js';

/* One contract for the Store (STYLE.md): the same test bodies against every real database we ship. */

interface Opened {
  store: KyselyStore;
  close(): Promise<void>;
  /** Another node on the same database, where the database serves more than one (SPEC §10). */
  openPeer?: () => Store;
}

const T1 = T0 + MINUTE;
const T2 = T0 + 2 * MINUTE;

/** `servesManyNodes`: the database takes several nodes at once (Postgres), so the cross-node cases apply. */
function contract(name: string, open: () => Promise<Opened>, { servesManyNodes = false } = {}): void {
  describe(name, () => {
    let opened: Opened;
    let store: Store;
    before(async () => {
      opened = await open();
      store = opened.store;
      await store.migrate();
    });
    after(() => opened.close());

    const { seedApp, seedUser, login, revokedAt } = seeds(() => store);

    /** `attempts` rotations of one refresh token, spread over `stores`: one wins, one pair of successors and one audit row exist. */
    async function race(stores: Store[], attempts: number): Promise<void> {
      const app = await seedApp();
      const { access, refresh } = await login(app, await seedUser());
      const rotations = Array.from({ length: attempts }, (_, i) => {
        const r = rotation(refresh, T1);
        return { ...r, audit: { at: T1, action: 'token.refreshed', actor: 'user:1', appId: app.id, tokenId: r.successors[0]!.id, detail: { attempt: i } } };
      });
      const results = await Promise.all(rotations.map((r, i) => stores[i % stores.length]!.rotateRefreshToken(r)));
      const winners = rotations.filter((_, i) => results[i]!.outcome === 'rotated');
      assert.equal(winners.length, 1);
      const winner = winners[0]!;
      for (const result of results) {
        if (result.outcome === 'lost') assert.equal(result.token?.successorId, winner.successorId);
      }
      const stored = await store.listTokens({ appId: app.id }, everything);
      assert.deepEqual(ids(stored), new Set([access.id, refresh.id, ...winner.successors.map((t) => t.id)]));
      const audited = (await store.listAudit({ appId: app.id }, everything)).items;
      assert.deepEqual(audited.map((e) => [e.action, e.tokenId, e.detail]), [['token.refreshed', winner.successors[0]!.id, winner.audit.detail]]);
    }

    test('migrate is idempotent: a second run applies nothing and keeps the data', async () => {
      const app = await seedApp();
      await store.migrate();
      const { rows } = await sql<{ n: number | string }>`select count(*) as n from kysely_migration`.execute(opened.store.db);
      assert.equal(Number(rows[0]!.n), Object.keys(migrations).length);
      assert.deepEqual(await store.findAppById(app.id), app);
      await store.ping();
    });

    test('an app round-trips every field with its JS type, by id and by client id', async () => {
      const app = await seedApp({
        name: UNICODE, grants: ['password', 'refresh_token', 'client_credentials'], scopes: [], accessTokenFormat: 'jwt',
        audience: 'https://api.example', refreshReuseGraceSeconds: 30, createdAt: T0 + 123, updatedAt: T0 + 456,
      });
      assert.deepEqual(await store.findAppById(app.id), app);
      assert.deepEqual(await store.findAppByClientId(app.clientId), app);
      assert.equal(await store.findAppById('app_unknown'), null);
      assert.equal(await store.findAppByClientId('cid_unknown'), null);
    });

    test('findAppByName gives the oldest live app of that name', async () => {
      const name = uniqueId('shared');
      const [oldest, middle] = [await seedApp({ name, createdAt: T0 }), await seedApp({ name, createdAt: T1 })];
      await seedApp({ name, createdAt: T2 });
      assert.equal((await store.findAppByName(name))?.id, oldest.id);
      await store.deleteApp(oldest.id, T2);
      assert.equal((await store.findAppByName(name))?.id, middle.id);
      assert.equal(await store.findAppByName(uniqueId('nobody')), null);
    });

    test('listApps walks every live app once in (created_at, id) order, unmoved by inserts behind the cursor', async () => {
      const mine = [T0, T1, T1, T1, T2, T2, T0 + DAY].map((createdAt) => newApp({ createdAt }));
      for (const app of mine) await store.insertApp(app);
      const deleted = await seedApp();
      await store.deleteApp(deleted.id, T1);
      const items = await assertWalk((p) => store.listApps(p), 3);
      assert.ok(mine.every((a) => items.some((i) => i.id === a.id)));
      assert.ok(!items.some((i) => i.id === deleted.id));
      assert.ok(items.every((a, i) => i === 0 || items[i - 1]!.createdAt <= a.createdAt));
      const first = await store.listApps({ limit: 3, cursor: null });
      await seedApp({ createdAt: T0 - DAY });
      const rest = await walk((p) => store.listApps(p), 3, first.nextCursor);
      assert.deepEqual([...first.items, ...rest.items].map((a) => a.id), items.map((a) => a.id));
    });

    test('countApps counts every app ever created, deleted ones included', async () => {
      const before = await store.countApps();
      const app = await seedApp();
      await store.deleteApp(app.id, T1);
      assert.equal(await store.countApps(), before + 1);
    });

    test('updateApp patches and returns the row; null for an unknown or deleted app', async () => {
      const app = await seedApp();
      const patch = { name: UNICODE, scopes: ['a', 'b'], audience: 'https://x.example', accessTokenTtl: 60, updatedAt: T1 };
      const updated = await store.updateApp(app.id, patch);
      assert.deepEqual(updated, { ...app, ...patch });
      assert.deepEqual(await store.findAppById(app.id), updated);
      assert.equal(await store.updateApp('app_unknown', { updatedAt: T1 }), null);
      await store.deleteApp(app.id, T2);
      assert.equal(await store.updateApp(app.id, { name: 'x', updatedAt: T2 }), null);
    });

    test("deleteApp revokes the app's sessions, tokens and master keys at once, and is false the second time", async () => {
      const [app, other, user] = [await seedApp(), await seedApp(), await seedUser()];
      const mine = await login(app, user);
      const theirs = await login(other, user);
      const key = newMasterKey(app.id);
      await store.insertMasterKey(key);
      const service = newToken('service', { appId: app.id }, { masterKeyId: key.id });
      await store.insertTokens([service]);
      assert.equal(await store.deleteApp(app.id, T1), true);
      assert.equal((await store.findAppById(app.id))?.deletedAt, T1);
      assert.equal((await store.findSession(mine.session.id))?.revokedAt, T1);
      for (const t of [mine.access, mine.refresh, service]) assert.equal(await revokedAt(t.id), T1);
      assert.equal((await store.findMasterKeyById(key.id))?.revokedAt, T1);
      assert.equal((await store.findSession(theirs.session.id))?.revokedAt, null);
      assert.equal(await revokedAt(theirs.refresh.id), null);
      assert.equal(await store.deleteApp(app.id, T2), false);
      assert.equal(await store.deleteApp('app_unknown', T2), false);
    });

    test('insertUser returns the row with a new integer id; a taken username key gives null', async () => {
      const input = newUser({ username: `${UNICODE} ${uniqueId('u')}` });
      const user = await store.insertUser(input);
      const { usernameKey, ...fields } = input;
      assert.ok(user && Number.isSafeInteger(user.id));
      assert.deepEqual(user, { ...fields, id: user.id });
      assert.equal(await store.insertUser(newUser({ username: input.username.toUpperCase(), usernameKey })), null);
      assert.ok((await seedUser()).id > user.id);
      assert.deepEqual(await store.findUserById(user.id), user);
      assert.deepEqual(await store.findUserByUsernameKey(usernameKey), user);
      assert.equal(await store.findUserById(987_654_321), null);
      assert.equal(await store.findUserByUsernameKey('nobody-at-all'), null);
    });

    test('listUsers walks every user once, by ascending id', async () => {
      const mine = [await seedUser(), await seedUser(), await seedUser(), await seedUser(), await seedUser()];
      const items = await assertWalk((p) => store.listUsers(p), 2);
      assert.ok(items.every((u, i) => i === 0 || items[i - 1]!.id < u.id));
      assert.ok(mine.every((u) => items.some((i) => i.id === u.id)));
    });

    test('disabling a user revokes every session and token it holds; enabling revives nothing', async () => {
      const [app, other, user, bystander] = [await seedApp(), await seedApp(), await seedUser(), await seedUser()];
      const [a, b, c] = [await login(app, user), await login(other, user), await login(app, bystander)];
      const api = newToken('api', { appId: app.id, userId: user.id }, { expiresAt: null });
      await store.insertTokens([api]);
      const disabled = await store.setUserDisabled(user.id, true, T1);
      assert.equal(disabled?.disabled, true);
      assert.equal(disabled?.updatedAt, T1);
      for (const s of [a, b]) assert.equal((await store.findSession(s.session.id))?.revokedAt, T1);
      for (const t of [a.access, a.refresh, b.access, b.refresh, api]) assert.equal(await revokedAt(t.id), T1);
      assert.deepEqual((await store.listSessionsForUser(user.id, everything)).items, []);
      assert.equal(await revokedAt(c.refresh.id), null);
      assert.equal((await store.setUserDisabled(user.id, false, T2))?.disabled, false);
      assert.equal(await revokedAt(api.id), T1);
      assert.equal(await store.setUserDisabled(987_654_321, true, T2), null);
    });

    test('setUserPassword ends every other session with its tokens and what they minted, keeping keepSessionId', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const [kept, b, c] = [await login(app, user), await login(app, user), await login(app, user)];
      const install = newToken('install', { appId: app.id, userId: user.id, sessionId: b.session.id });
      const minted = newToken('api', { appId: app.id, userId: user.id }, { parentId: install.id, expiresAt: null });
      const keptMinted = newToken('api', { appId: app.id, userId: user.id }, { parentId: kept.access.id, expiresAt: null });
      await store.insertTokens([install, minted, keptMinted]);
      const updated = await store.setUserPassword(user.id, 'new-hash', T1, kept.session.id);
      assert.deepEqual(updated, { ...user, passwordHash: 'new-hash', updatedAt: T1 });
      for (const s of [b, c]) assert.equal((await store.findSession(s.session.id))?.revokedAt, T1);
      for (const t of [b.access, b.refresh, c.access, c.refresh, install, minted]) assert.equal(await revokedAt(t.id), T1);
      assert.equal((await store.findSession(kept.session.id))?.revokedAt, null);
      for (const t of [kept.access, kept.refresh, keptMinted]) assert.equal(await revokedAt(t.id), null);
      await store.setUserPassword(user.id, 'newer-hash', T2, null);
      assert.equal((await store.findSession(kept.session.id))?.revokedAt, T2);
      assert.equal(await revokedAt(keptMinted.id), T2);
      assert.equal(await store.setUserPassword(987_654_321, 'x', T2, null), null);
    });

    test('deleteUser removes the user, revokes what it held, frees its username, and is false the second time', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const { session, refresh } = await login(app, user);
      assert.equal(await store.deleteUser(user.id, T1), true);
      assert.equal(await store.findUserById(user.id), null);
      assert.equal((await store.findSession(session.id))?.revokedAt, T1);
      assert.equal(await revokedAt(refresh.id), T1);
      assert.equal(await store.deleteUser(user.id, T2), false);
      assert.ok(await store.insertUser(newUser({ username: user.username })));
    });

    test('insertSession stores the session and its tokens together, or nothing at all', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const session = newSession(user.id, app.id, { deviceInfo: UNICODE, ip: null, userAgent: null });
      const token = newToken('access', { appId: app.id, userId: user.id, sessionId: session.id }, { scopes: ['a', 'b:c'], name: UNICODE });
      await store.insertSession(session, [token]);
      assert.deepEqual(await store.findSession(session.id), session);
      assert.deepEqual(await store.findTokenById(token.id), token);
      assert.deepEqual(await store.findTokenByHash(token.hash), token);
      assert.equal(await store.findSession('ses_unknown'), null);
      assert.equal(await store.findTokenByHash('0'.repeat(64)), null);
      assert.equal(await store.findTokenById('tok_unknown'), null);
      const doomed = newSession(user.id, app.id);
      const fine = newToken('access', { appId: app.id, sessionId: doomed.id });
      await assert.rejects(store.insertSession(doomed, [fine, newToken('refresh', { appId: app.id }, { hash: token.hash })]));
      assert.equal(await store.findSession(doomed.id), null);
      assert.equal(await store.findTokenById(fine.id), null);
    });

    test('issuance writes its audit row with its rows: both stand, or neither', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const audited = async (tokenId: string) =>
        (await store.listAudit({ appId: app.id }, { limit: 100, cursor: null })).items.filter((e) => e.tokenId === tokenId);
      const event = (tokenId: string) => ({ at: T1, action: 'token.issued', actor: `user:${user.id}`, appId: app.id, userId: user.id, tokenId, detail: { n: UNICODE } });

      const token = newToken('access', { appId: app.id });
      await store.insertTokens([token], event(token.id));
      assert.deepEqual(await store.findTokenById(token.id), token);
      assert.deepEqual((await audited(token.id)).map((e) => [e.action, e.actor, e.detail]), [['token.issued', `user:${user.id}`, { n: UNICODE }]]);

      const session = newSession(user.id, app.id);
      const access = newToken('access', { appId: app.id, userId: user.id, sessionId: session.id });
      await store.insertSession(session, [access], event(access.id));
      assert.ok((await store.findSession(session.id)) !== null);
      assert.equal((await audited(access.id)).length, 1);

      const lost = newToken('access', { appId: app.id });
      await assert.rejects(store.insertTokens([lost, newToken('access', { appId: app.id }, { hash: token.hash })], event(lost.id)));
      assert.equal(await store.findTokenById(lost.id), null);
      assert.deepEqual(await audited(lost.id), [], 'no audit row for tokens that were not issued');

      const doomed = newSession(user.id, app.id);
      const doomedToken = newToken('access', { appId: app.id, sessionId: doomed.id }, { hash: token.hash });
      await assert.rejects(store.insertSession(doomed, [doomedToken], event(doomedToken.id)));
      assert.equal(await store.findSession(doomed.id), null);
      assert.deepEqual(await audited(doomedToken.id), []);
    });

    test("listSessionsForUser pages a user's live sessions, newest first", async () => {
      const [app, user, other] = [await seedApp(), await seedUser(), await seedUser()];
      const live = [];
      for (const at of [T0, T1, T1, T1, T2, T0 + DAY]) live.push((await login(app, user, at)).session.id);
      const gone = await login(app, user, T2);
      await store.revokeSession(gone.session.id, T2);
      await login(app, other);
      const items = await assertWalk((p) => store.listSessionsForUser(user.id, p), 2);
      assert.deepEqual(new Set(items.map((s) => s.id)), new Set(live));
      assert.ok(items.every((s, i) => i === 0 || items[i - 1]!.createdAt >= s.createdAt));
    });

    test('revokeSession revokes its tokens and the tokens they minted, once', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const [a, b] = [await login(app, user), await login(app, user)];
      const install = newToken('install', { appId: app.id, userId: user.id, sessionId: a.session.id });
      const minted = newToken('api', { appId: app.id, userId: user.id }, { parentId: install.id, expiresAt: null });
      await store.insertTokens([install, minted]);
      assert.equal(await store.revokeSession(a.session.id, T1), true);
      assert.equal((await store.findSession(a.session.id))?.revokedAt, T1);
      for (const t of [a.access, a.refresh, install, minted]) assert.equal(await revokedAt(t.id), T1);
      assert.equal((await store.findSession(b.session.id))?.revokedAt, null);
      assert.equal(await revokedAt(b.refresh.id), null);
      assert.equal(await store.revokeSession(a.session.id, T2), false);
      assert.equal(await revokedAt(a.access.id), T1);
      assert.equal(await store.revokeSession('ses_unknown', T2), false);
    });

    test('revokeToken revokes the token and the tokens it minted, not its siblings', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const owner = { appId: app.id, userId: user.id };
      const [install, sibling] = [newToken('install', owner, { installId: UNICODE }), newToken('install', owner)];
      const children = [newToken('api', owner, { parentId: install.id }), newToken('access', owner, { parentId: install.id })];
      await store.insertTokens([install, sibling, ...children]);
      assert.equal(await store.revokeToken(install.id, T1), true);
      for (const t of [install, ...children]) assert.equal(await revokedAt(t.id), T1);
      assert.equal(await revokedAt(sibling.id), null);
      assert.equal(await store.revokeToken(install.id, T2), false);
      assert.equal(await store.revokeToken('tok_unknown', T2), false);
    });

    test('listTokens filters by user, app, kind and activeAt (not revoked, used or expired)', async () => {
      const [app, other, user] = [await seedApp(), await seedApp(), await seedUser()];
      const { access, refresh } = await login(app, user);
      const owner = { appId: app.id, userId: user.id };
      const api = newToken('api', owner, { expiresAt: null });
      const expired = newToken('access', owner, { expiresAt: T1 });
      const revoked = newToken('access', owner, { revokedAt: T0 });
      const used = newToken('refresh', owner, { usedAt: T0, successorId: refresh.id });
      const service = newToken('service', { appId: other.id });
      await store.insertTokens([api, expired, revoked, used, service]);
      const list = (filter: Parameters<Store['listTokens']>[0]) => store.listTokens(filter, everything).then(ids);
      assert.deepEqual(await list({ userId: user.id }), new Set([access.id, refresh.id, api.id, expired.id, revoked.id, used.id]));
      assert.deepEqual(await list({ appId: other.id }), new Set([service.id]));
      assert.deepEqual(await list({ userId: user.id, kind: 'refresh' }), new Set([refresh.id, used.id]));
      assert.deepEqual(await list({ userId: user.id, appId: other.id }), new Set());
      assert.deepEqual(await list({ userId: user.id, activeAt: T1 }), new Set([access.id, refresh.id, api.id]));
      assert.deepEqual(await list({ userId: user.id, activeAt: T1 - 1 }), new Set([access.id, refresh.id, api.id, expired.id]));
    });

    test('listTokens pages newest first', async () => {
      const [app, user] = [await seedApp(), await seedUser()];
      const mine = [T0, T1, T1, T1, T2, T2, T0 + DAY].map((createdAt) => newToken('api', { appId: app.id, userId: user.id }, { createdAt }));
      await store.insertTokens(mine);
      const items = await assertWalk((p) => store.listTokens({ userId: user.id }, p), 3);
      assert.deepEqual(new Set(items.map((t) => t.id)), new Set(mine.map((t) => t.id)));
      assert.ok(items.every((t, i) => i === 0 || items[i - 1]!.createdAt >= t.createdAt));
    });

    test('rotating a refresh token marks it used, inserts its successors and touches its session', async () => {
      const { session, refresh } = await login(await seedApp(), await seedUser());
      const first = rotation(refresh, T1, { successorSealed: 'sealed-pair' });
      assert.deepEqual(await store.rotateRefreshToken(first), { outcome: 'rotated' });
      const used = { ...refresh, usedAt: T1, successorId: first.successorId, successorSealed: 'sealed-pair' };
      assert.deepEqual(await store.findTokenById(refresh.id), used);
      for (const t of first.successors) assert.deepEqual(await store.findTokenById(t.id), t);
      assert.equal((await store.findSession(session.id))?.lastUsedAt, T1);
      const second = rotation(refresh, T2);
      assert.deepEqual(await store.rotateRefreshToken(second), { outcome: 'lost', token: used });
      for (const t of second.successors) assert.equal(await store.findTokenById(t.id), null);
    });

    test("rotation loses for another app's, an expired, a revoked, a non-refresh or an unknown token", async () => {
      const [app, other, user] = [await seedApp(), await seedApp(), await seedUser()];
      const { access, refresh } = await login(app, user);
      const expiring = newToken('refresh', { appId: app.id, userId: user.id }, { expiresAt: T1 });
      const revoked = newToken('refresh', { appId: app.id, userId: user.id }, { revokedAt: T0 });
      await store.insertTokens([expiring, revoked]);
      const cases: [Rotation, Token | null][] = [
        [rotation(refresh, T1, { appId: other.id }), refresh],
        [rotation(expiring, T1), expiring],
        [rotation(revoked, T1), revoked],
        [rotation(access, T1), access],
        [rotation(refresh, T1, { hash: 'f'.repeat(64) }), null],
      ];
      for (const [attempt, row] of cases) {
        assert.deepEqual(await store.rotateRefreshToken(attempt), { outcome: 'lost', token: row });
        for (const t of attempt.successors) assert.equal(await store.findTokenById(t.id), null);
      }
    });

    test('of 20 concurrent rotations of one refresh token exactly one wins', () => race([store], 20));

    if (servesManyNodes) test('two nodes (two pools) rotating one refresh token 50 times: exactly one wins', async () => {
      const peer = opened.openPeer!();
      try {
        await peer.migrate();
        await race([store, peer], 50);
      } finally {
        await peer.close();
      }
    });

    test('recordUsage only moves last_used_at forward, for tokens, sessions and master keys', async () => {
      const app = await seedApp();
      const { session, access } = await login(app, await seedUser());
      const key = newMasterKey(app.id);
      await store.insertMasterKey(key);
      const usage = (at: number) => ({
        tokens: new Map([[access.id, at]]), sessions: new Map([[session.id, at]]), masterKeys: new Map([[key.id, at]]),
      });
      const lastUsed = async () => [
        (await store.findTokenById(access.id))?.lastUsedAt,
        (await store.findSession(session.id))?.lastUsedAt,
        (await store.findMasterKeyById(key.id))?.lastUsedAt,
      ];
      await store.recordUsage(usage(T2));
      assert.deepEqual(await lastUsed(), [T2, T2, T2]);
      await store.recordUsage(usage(T1));
      assert.deepEqual(await lastUsed(), [T2, T2, T2]);
      await store.recordUsage({ tokens: new Map(), sessions: new Map(), masterKeys: new Map() });
      await store.recordUsage(usage(T0 + DAY));
      assert.deepEqual(await lastUsed(), [T0 + DAY, T0 + DAY, T0 + DAY]);
    });

    test('master keys round-trip by hash and id, and list per app newest first', async () => {
      const [app, other] = [await seedApp(), await seedApp()];
      const keys = [T0, T1, T1, T2, T2].map((createdAt) => newMasterKey(app.id, { createdAt, name: UNICODE, lastUsedAt: T0 }));
      for (const key of [...keys, newMasterKey(other.id)]) await store.insertMasterKey(key);
      assert.deepEqual(await store.findMasterKeyByHash(keys[0]!.hash), keys[0]);
      assert.deepEqual(await store.findMasterKeyById(keys[1]!.id), keys[1]);
      assert.equal(await store.findMasterKeyByHash('0'.repeat(64)), null);
      assert.equal(await store.findMasterKeyById('mk_unknown'), null);
      const items = await assertWalk((p) => store.listMasterKeys(app.id, p), 2);
      assert.deepEqual(new Set(items.map((k) => k.id)), new Set(keys.map((k) => k.id)));
      assert.ok(items.every((k, i) => i === 0 || items[i - 1]!.createdAt >= k.createdAt));
    });

    test("revokeMasterKey revokes the service tokens it minted, not another key's", async () => {
      const app = await seedApp();
      const [key, sibling] = [newMasterKey(app.id), newMasterKey(app.id)];
      for (const k of [key, sibling]) await store.insertMasterKey(k);
      const mine = newToken('service', { appId: app.id }, { masterKeyId: key.id, format: 'jwt' });
      const theirs = newToken('service', { appId: app.id }, { masterKeyId: sibling.id });
      await store.insertTokens([mine, theirs]);
      assert.equal(await store.revokeMasterKey(key.id, T1), true);
      assert.equal((await store.findMasterKeyById(key.id))?.revokedAt, T1);
      assert.equal(await revokedAt(mine.id), T1);
      assert.equal((await store.findMasterKeyById(sibling.id))?.revokedAt, null);
      assert.equal(await revokedAt(theirs.id), null);
      assert.equal(await store.revokeMasterKey(key.id, T2), false);
    });

    test('operator tokens round-trip by hash', async () => {
      const token = { id: uniqueId('op'), hash: 'a'.repeat(64), name: UNICODE, createdAt: T0, revokedAt: null };
      const revoked = { ...token, id: uniqueId('op'), hash: 'b'.repeat(64), revokedAt: T1 };
      for (const t of [token, revoked]) await store.insertOperatorToken(t);
      assert.deepEqual(await store.findOperatorTokenByHash(token.hash), token);
      assert.deepEqual(await store.findOperatorTokenByHash(revoked.hash), revoked);
      assert.equal(await store.findOperatorTokenByHash('c'.repeat(64)), null);
    });

    test('rotateSigningKeys retires the current key, promotes the next, withdraws a passed-over one and adds newNext', async () => {
      const current = newSigningKey({ createdAt: T0, activatedAt: T0 });
      const next = newSigningKey({ createdAt: T0 + 1 });
      const passedOver = newSigningKey({ createdAt: T0 + 2, alg: 'RS256' });
      const newNext = newSigningKey({ createdAt: T2, alg: 'EdDSA' });
      for (const key of [current, next, passedOver]) await store.insertSigningKey(key);
      assert.deepEqual(await store.listSigningKeys(), [current, next, passedOver]);
      await store.rotateSigningKeys({ at: T2, promote: next.kid, newNext, publishedUntil: T2 + DAY });
      assert.deepEqual(await store.listSigningKeys(), [
        { ...current, retiredAt: T2, publishedUntil: T2 + DAY },
        { ...next, activatedAt: T2 },
        { ...passedOver, retiredAt: T2, publishedUntil: T2 },
        newNext,
      ]);
    });

    test('appendAudit round-trips its detail JSON; listAudit pages newest first with filters', async () => {
      const [appId, action] = [uniqueId('app'), uniqueId('act')];
      const detail = { reason: UNICODE, n: 1.5, ok: true, none: null, list: [1, 'two', { three: 3 }] };
      await store.appendAudit({ at: T0, action, actor: 'system' });
      const full = { at: T1, action, actor: 'operator:op_1', appId, userId: 7, sessionId: 'ses_1', tokenId: 'tok_1', ip: '::1', detail };
      await store.appendAudit(full);
      await store.appendAudit({ at: T2, action, actor: 'user:8', appId, userId: 8 });
      await store.appendAudit({ at: T2, action: uniqueId('other'), actor: 'system', appId });
      const all = await assertWalk((p) => store.listAudit({ action }, p), 2);
      assert.deepEqual(all.map((e) => e.at), [T2, T1, T0]);
      assert.ok(all.every((e, i) => Number.isSafeInteger(e.id) && (i === 0 || all[i - 1]!.id > e.id)));
      assert.deepEqual(all[1], { id: all[1]!.id, ...full });
      const bare = { at: T0, action, actor: 'system', appId: null, userId: null, sessionId: null, tokenId: null, ip: null, detail: null };
      assert.deepEqual(all[2], { id: all[2]!.id, ...bare });
      const count = async (filter: Parameters<Store['listAudit']>[0]) => (await store.listAudit(filter, everything)).items.length;
      assert.equal(await count({ appId }), 3);
      assert.equal(await count({ action, userId: 8 }), 1);
      assert.equal(await count({ action, since: T1 }), 2);
      assert.equal(await count({ action, appId, since: T2 }), 1);
    });

    test('a cursor this server did not give out, or gave out for another list, is refused with InvalidRequest', async () => {
      const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const [textId, integerId] = [cursor([T0, 5]), cursor([T0, 'app_x'])];
      const lists: [(cursor: string) => Promise<unknown>, string][] = [
        [(c) => store.listApps({ limit: 5, cursor: c }), textId],
        [(c) => store.listSessionsForUser(1, { limit: 5, cursor: c }), textId],
        [(c) => store.listTokens({}, { limit: 5, cursor: c }), textId],
        [(c) => store.listMasterKeys('app_x', { limit: 5, cursor: c }), textId],
        [(c) => store.listUsers({ limit: 5, cursor: c }), integerId],
        [(c) => store.listAudit({}, { limit: 5, cursor: c }), integerId],
      ];
      const malformed = ['not a cursor', '', cursor([1]), cursor({ at: 1 }), cursor([1.5, 'x']), cursor([1e300, 'x']), cursor(['x', 'y'])];
      for (const [list, foreign] of lists) {
        for (const bad of [...malformed, foreign]) await assert.rejects(list(bad), InvalidRequest, `cursor ${bad}`);
      }
    });
  });
}

contract('Store contract on SQLite (temp file, WAL)', tempSqliteStore);

contract('Store contract on Postgres', async () => {
  const database = await createTestDatabase();
  const store = openPostgresStore(database.url);
  return {
    store,
    openPeer: () => openPostgresStore(database.url),
    async close() {
      await store.close();
      await database.drop();
    },
  };
}, { servesManyNodes: true });
