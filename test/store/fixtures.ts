import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY } from '../../src/core/apps.js';
import type { App, MasterKey, Session, SigningKey, Token, User } from '../../src/core/model.js';
import type { TokenKind } from '../../src/core/tokens.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { NewUser, Page, PageRequest, Rotation, Store } from '../../src/store/store.js';

/* Domain rows for the store contract: every field set, unique ids, times in ms. */

export const T0 = Date.UTC(2026, 10, 1, 12);
export const MINUTE = 60_000;
export const DAY = 86_400_000;
export const UNICODE = 'Zoë 東京 🚀';

export const uniqueId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

export function newApp(overrides: Partial<App> = {}): App {
  return {
    id: uniqueId('app'),
    clientId: uniqueId('cid'),
    clientSecretHash: randomBytes(32).toString('hex'),
    ...DEFAULT_POLICY,
    name: uniqueId('name'),
    // Away from the defaults where a round trip should show the value was stored, not defaulted.
    grants: ['password', 'refresh_token'],
    scopes: ['read', 'write'],
    serviceTokenFormat: 'jwt',
    deeplinkTemplate: 'myapp://login?token={token}',
    createdAt: T0,
    updatedAt: T0,
    deletedAt: null,
    ...overrides,
  };
}

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const username = overrides.username ?? uniqueId('user');
  return {
    userProfileId: randomUUID(),
    username,
    usernameKey: username.normalize('NFC').toLowerCase(),
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$' + randomBytes(16).toString('base64'),
    disabled: false,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function newSession(userId: number, appId: string, overrides: Partial<Session> = {}): Session {
  return {
    id: uniqueId('ses'),
    userId,
    appId,
    deviceInfo: 'Unknown',
    ip: '203.0.113.7',
    userAgent: 'contract-test/1.0',
    createdAt: T0,
    lastUsedAt: T0,
    revokedAt: null,
    ...overrides,
  };
}

/** A live token; `owner` says whose it is. */
export function newToken(
  kind: TokenKind,
  owner: { appId: string; userId?: number | null; sessionId?: string | null },
  overrides: Partial<Token> = {},
): Token {
  return {
    id: uniqueId('tok'),
    hash: randomBytes(32).toString('hex'),
    kind,
    format: 'opaque',
    appId: owner.appId,
    userId: owner.userId ?? null,
    sessionId: owner.sessionId ?? null,
    parentId: null,
    masterKeyId: null,
    installId: null,
    name: null,
    scopes: ['read'],
    createdAt: T0,
    expiresAt: T0 + DAY,
    revokedAt: null,
    lastUsedAt: null,
    usedAt: null,
    successorId: null,
    successorSealed: null,
    ...overrides,
  };
}

export function newMasterKey(appId: string, overrides: Partial<MasterKey> = {}): MasterKey {
  return {
    id: uniqueId('mk'),
    appId,
    hash: randomBytes(32).toString('hex'),
    name: null,
    createdAt: T0,
    revokedAt: null,
    lastUsedAt: null,
    ...overrides,
  };
}

export function newSigningKey(overrides: Partial<SigningKey> = {}): SigningKey {
  const kid = overrides.kid ?? uniqueId('kid');
  return {
    kid,
    alg: 'ES256',
    privateJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', kid, d: randomBytes(32).toString('base64url') }),
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', kid }),
    createdAt: T0,
    activatedAt: null,
    retiredAt: null,
    publishedUntil: null,
    ...overrides,
  };
}

/** Rows written through the store under test; `store` is read at each call, as it opens in `before`. */
export function seeds(store: () => Store) {
  const seedApp = async (overrides: Partial<App> = {}): Promise<App> => {
    const app = newApp(overrides);
    await store().insertApp(app);
    return app;
  };
  const seedUser = async (): Promise<User> => {
    const user = await store().insertUser(newUser());
    assert.ok(user);
    return user;
  };
  /** One live session of `user` through `app`, holding an access and a refresh token. */
  const login = async (app: App, user: User, at = T0): Promise<{ session: Session; access: Token; refresh: Token }> => {
    const session = newSession(user.id, app.id, { createdAt: at, lastUsedAt: at });
    const owner = { appId: app.id, userId: user.id, sessionId: session.id };
    const access = newToken('access', owner, { createdAt: at, expiresAt: at + 2 * 3_600_000 });
    const refresh = newToken('refresh', owner, { createdAt: at, expiresAt: at + 14 * DAY });
    await store().insertSession(session, [access, refresh]);
    return { session, access, refresh };
  };
  const revokedAt = async (id: string): Promise<number | null | undefined> => (await store().findTokenById(id))?.revokedAt;
  return { seedApp, seedUser, login, revokedAt };
}

/** A rotation of `refresh` at `now` into a fresh access + refresh pair. */
export function rotation(refresh: Token, now: number, overrides: Partial<Rotation> = {}): Rotation {
  const owner = { appId: refresh.appId, userId: refresh.userId, sessionId: refresh.sessionId };
  const next = newToken('refresh', owner, { createdAt: now, expiresAt: now + 14 * DAY });
  const successors = [newToken('access', owner, { createdAt: now }), next];
  return { hash: refresh.hash, appId: refresh.appId, now, successorId: next.id, successorSealed: null, successors, ...overrides };
}

export const everything: PageRequest = { limit: 1000, cursor: null };

type Lister<T> = (page: PageRequest) => Promise<Page<T>>;

export const ids = <T extends { id: string | number }>(page: Page<T>): Set<string | number> => new Set(page.items.map((i) => i.id));

/** Follows `nextCursor` from `cursor` to the end; returns every item in the order served and how many pages it took. */
export async function walk<T>(list: Lister<T>, limit: number, cursor: string | null = null): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  do {
    const page: Page<T> = await list({ limit, cursor });
    assert.ok(page.items.length <= limit, `a page of ${page.items.length} exceeds the limit ${limit}`);
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 1000);
  return { items, pages };
}

/** Walks the list `limit` at a time: every item exactly once, in the order one big page gives, no empty last page. */
export async function assertWalk<T extends { id: string | number }>(list: Lister<T>, limit: number): Promise<T[]> {
  const { items, pages } = await walk(list, limit);
  assert.equal(new Set(items.map((i) => i.id)).size, items.length, 'an item was served twice');
  assert.deepEqual(items.map((i) => i.id), (await list(everything)).items.map((i) => i.id));
  assert.equal(pages, Math.max(1, Math.ceil(items.length / limit)), 'the last full page still promised more');
  return items;
}

/** A migrated SQLite store in a temp folder of its own; `close` closes it and deletes the folder. */
export async function tempSqliteStore(): Promise<{ store: KyselyStore; path: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokend-store-'));
  const path = join(dir, 'tokend.db');
  const store = openSqliteStore(path);
  await store.migrate();
  return {
    store,
    path,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
