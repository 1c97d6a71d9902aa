import { Migrator, PostgresAdapter, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { App, MasterKey, NewAuditEvent, OperatorToken, Session, SigningKey, Token, User } from '../core/model.js';
import { migrations } from './migrations/index.js';
import { after, decodeCursor, toPage } from './pagination.js';
import {
  fromAppRow,
  fromAuditRow,
  fromMasterKeyRow,
  fromOperatorTokenRow,
  fromSessionRow,
  fromSigningKeyRow,
  fromTokenRow,
  fromUserRow,
  toAppRow,
  toSessionRow,
  toSigningKeyRow,
  toTokenRow,
  type Database,
} from './schema.js';
import type {
  AppPatch,
  NewUser,
  AuditFilter,
  Page,
  PageRequest,
  Rotation,
  RotationResult,
  Store,
  ExpiredTokenSweep,
  SweptRows,
  TokenFilter,
  Usage,
} from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

type SessionIds = readonly string[] | SelectQueryBuilder<Database, 'sessions', { id: string }>;

/** Revokes the tokens a set of sessions owns, and the tokens those minted (install tokens). */
async function revokeSessionTokens(db: Db, sessionIds: SessionIds, at: number): Promise<void> {
  await db
    .updateTable('tokens')
    .set({ revoked_at: at })
    .where('revoked_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('session_id', 'in', sessionIds),
        eb('parent_id', 'in', eb.selectFrom('tokens as t').select('t.id').where('t.session_id', 'in', sessionIds)),
      ]),
    )
    .execute();
}

/** One implementation of the Store for every Kysely dialect we support. */
export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error !== undefined || failed !== undefined) {
      throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
    }
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('apps').select('id').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.onClose();
  }

  // Apps

  async insertApp(app: App): Promise<void> {
    await this.db.insertInto('apps').values(toAppRow(app)).execute();
  }

  async findAppById(id: string): Promise<App | null> {
    const row = await this.db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : fromAppRow(row);
  }

  async findAppByClientId(clientId: string): Promise<App | null> {
    const row = await this.db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    return row === undefined ? null : fromAppRow(row);
  }

  async findAppByName(name: string): Promise<App | null> {
    const row = await this.db
      .selectFrom('apps')
      .selectAll()
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'asc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? null : fromAppRow(row);
  }

  async listApps(page: PageRequest): Promise<Page<App>> {
    const position = decodeCursor(page.cursor);
    const rows = await this.db
      .selectFrom('apps')
      .selectAll()
      .where('deleted_at', 'is', null)
      .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'asc', position!)))
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromAppRow, (r) => [Number(r.created_at), r.id]);
  }

  async countApps(): Promise<number> {
    const row = await this.db.selectFrom('apps').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updateApp(id: string, patch: AppPatch): Promise<App | null> {
    const current = await this.findAppById(id);
    if (current === null || current.deletedAt !== null) return null;
    const { id: _id, client_id: _cid, created_at: _c, deleted_at: _d, ...row } = toAppRow({ ...current, ...patch });
    await this.db.updateTable('apps').set(row).where('id', '=', id).where('deleted_at', 'is', null).execute();
    return this.findAppById(id);
  }

  async deleteApp(id: string, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('apps')
        .set({ deleted_at: at })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await trx.updateTable('sessions').set({ revoked_at: at }).where('app_id', '=', id).where('revoked_at', 'is', null).execute();
      await trx.updateTable('tokens').set({ revoked_at: at }).where('app_id', '=', id).where('revoked_at', 'is', null).execute();
      await trx.updateTable('master_keys').set({ revoked_at: at }).where('app_id', '=', id).where('revoked_at', 'is', null).execute();
      return true;
    });
  }

  // Users

  async insertUser(user: NewUser): Promise<User | null> {
    const row = await this.db
      .insertInto('users')
      .values({
        user_profile_id: user.userProfileId,
        username: user.username,
        username_key: user.usernameKey,
        password_hash: user.passwordHash,
        disabled: user.disabled ? 1 : 0,
        created_at: user.createdAt,
        updated_at: user.updatedAt,
      })
      .onConflict((oc) => oc.column('username_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? null : fromUserRow(row);
  }

  async findUserById(id: number): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : fromUserRow(row);
  }

  async findUserByUsernameKey(key: string): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('username_key', '=', key).executeTakeFirst();
    return row === undefined ? null : fromUserRow(row);
  }

  async listUsers(page: PageRequest): Promise<Page<User>> {
    const position = decodeCursor(page.cursor, 'integer');
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .$if(position !== null, (q) => q.where('id', '>', Number(position![1])))
      .orderBy('id', 'asc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromUserRow, (r) => [0, Number(r.id)]);
  }

  async setUserDisabled(id: number, disabled: boolean, at: number): Promise<User | null> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ disabled: disabled ? 1 : 0, updated_at: at }).where('id', '=', id).execute();
      if (disabled) await revokeEverythingOfUser(trx, id, at);
    });
    return this.findUserById(id);
  }

  async setUserPassword(id: number, passwordHash: string, at: number, keepSessionId: string | null): Promise<User | null> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: passwordHash, updated_at: at }).where('id', '=', id).execute();
      const others = trx
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', id)
        .where('revoked_at', 'is', null)
        .$if(keepSessionId !== null, (q) => q.where('id', '<>', keepSessionId!));
      await revokeSessionTokens(trx, others, at);
      await trx
        .updateTable('sessions')
        .set({ revoked_at: at })
        .where('user_id', '=', id)
        .where('revoked_at', 'is', null)
        .$if(keepSessionId !== null, (q) => q.where('id', '<>', keepSessionId!))
        .execute();
    });
    return this.findUserById(id);
  }

  async deleteUser(id: number, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await revokeEverythingOfUser(trx, id, at);
      const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  // Sessions

  async insertSession(session: Session, tokens: Token[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('sessions').values(toSessionRow(session)).execute();
      if (tokens.length > 0) await trx.insertInto('tokens').values(tokens.map(toTokenRow)).execute();
    });
  }

  async findSession(id: string): Promise<Session | null> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : fromSessionRow(row);
  }

  async listSessionsForUser(userId: number, page: PageRequest): Promise<Page<Session>> {
    const position = decodeCursor(page.cursor);
    const rows = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromSessionRow, (r) => [Number(r.created_at), r.id]);
  }

  async revokeSession(id: string, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('sessions')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      await revokeSessionTokens(trx, [id], at);
      return Number(result.numUpdatedRows) > 0;
    });
  }

  // Tokens

  async insertTokens(tokens: Token[]): Promise<void> {
    if (tokens.length === 0) return;
    await this.db.insertInto('tokens').values(tokens.map(toTokenRow)).execute();
  }

  async findTokenByHash(hash: string): Promise<Token | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row === undefined ? null : fromTokenRow(row);
  }

  async findTokenById(id: string): Promise<Token | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : fromTokenRow(row);
  }

  async listTokens(filter: TokenFilter, page: PageRequest): Promise<Page<Token>> {
    const position = decodeCursor(page.cursor);
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId!))
      .$if(filter.appId !== undefined, (q) => q.where('app_id', '=', filter.appId!))
      .$if(filter.kind !== undefined, (q) => q.where('kind', '=', filter.kind!))
      .$if(filter.activeAt !== undefined, (q) =>
        q
          .where('revoked_at', 'is', null)
          .where('used_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', filter.activeAt!)])),
      )
      .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromTokenRow, (r) => [Number(r.created_at), r.id]);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where((eb) => eb.or([eb('id', '=', id), eb('parent_id', '=', id)]))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async rotateRefreshToken(rotation: Rotation): Promise<RotationResult> {
    const rotated = await this.db.transaction().execute(async (trx) => {
      // The single atomic gate: only the first caller finds used_at still NULL.
      const consumed = await trx
        .updateTable('tokens')
        .set({ used_at: rotation.now, successor_id: rotation.successorId, successor_sealed: rotation.successorSealed })
        .where('hash', '=', rotation.hash)
        .where('app_id', '=', rotation.appId)
        .where('kind', '=', 'refresh')
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', rotation.now)
        .returning(['id', 'session_id'])
        .executeTakeFirst();
      if (consumed === undefined) return false;
      await trx.insertInto('tokens').values(rotation.successors.map(toTokenRow)).execute();
      if (consumed.session_id !== null) {
        await trx.updateTable('sessions').set({ last_used_at: rotation.now }).where('id', '=', consumed.session_id).execute();
      }
      return true;
    });
    if (rotated) return { outcome: 'rotated' };
    return { outcome: 'lost', token: await this.findTokenByHash(rotation.hash) };
  }

  async recordUsage({ tokens, sessions, masterKeys }: Usage): Promise<void> {
    if (tokens.size === 0 && sessions.size === 0 && masterKeys.size === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [table, times] of [['tokens', tokens], ['master_keys', masterKeys]] as const) {
        for (const [id, at] of times) {
          await trx
            .updateTable(table)
            .set({ last_used_at: at })
            .where('id', '=', id)
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
            .execute();
        }
      }
      for (const [id, at] of sessions) {
        await trx.updateTable('sessions').set({ last_used_at: at }).where('id', '=', id).where('last_used_at', '<', at).execute();
      }
    });
  }

  async deleteExpiredTokens({ before, batchSize }: ExpiredTokenSweep): Promise<SweptRows> {
    // Postgres: SKIP LOCKED lets sweeps on many nodes take disjoint rows and never wait on
    // each other or on a request's lock, so they cannot deadlock. SQLite has one writer anyway.
    const postgres = this.db.getExecutor().adapter instanceof PostgresAdapter;
    const expired = this.db
      .selectFrom('tokens as t')
      .select('t.id')
      // `<` never matches NULL: an API token without expiry is never swept.
      .where('t.expires_at', '<', before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('tokens as child')
              .select('child.id')
              .whereRef('child.parent_id', '=', 't.id')
              .where((c) => c.or([c('child.expires_at', 'is', null), c('child.expires_at', '>=', before)])),
          ),
        ),
      )
      .orderBy('t.expires_at')
      .limit(batchSize)
      .$if(postgres, (q) => q.forUpdate().skipLocked());
    const deleted = await this.db.deleteFrom('tokens').where('id', 'in', expired).returning('session_id').execute();
    const sessionIds = [...new Set(deleted.flatMap((row) => (row.session_id === null ? [] : [row.session_id])))];
    if (sessionIds.length === 0) return { tokens: deleted.length, sessions: 0 };
    // A session with no token left can never be used or refreshed again. A separate statement,
    // after the tokens' commit: two nodes sweeping one session's tokens at once each saw the
    // other's rows still there, but whichever checks last sees them gone.
    const emptied = this.db
      .selectFrom('sessions as s')
      .select('s.id')
      .where('s.id', 'in', sessionIds)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('tokens as t').select('t.id').whereRef('t.session_id', '=', 's.id'))))
      .$if(postgres, (q) => q.forUpdate().skipLocked());
    const sessions = await this.db.deleteFrom('sessions').where('id', 'in', emptied).executeTakeFirst();
    return { tokens: deleted.length, sessions: Number(sessions.numDeletedRows) };
  }

  // Master keys

  async insertMasterKey(key: MasterKey): Promise<void> {
    await this.db
      .insertInto('master_keys')
      .values({
        id: key.id,
        app_id: key.appId,
        hash: key.hash,
        name: key.name,
        created_at: key.createdAt,
        revoked_at: key.revokedAt,
        last_used_at: key.lastUsedAt,
      })
      .execute();
  }

  async findMasterKeyByHash(hash: string): Promise<MasterKey | null> {
    const row = await this.db.selectFrom('master_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row === undefined ? null : fromMasterKeyRow(row);
  }

  async findMasterKeyById(id: string): Promise<MasterKey | null> {
    const row = await this.db.selectFrom('master_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : fromMasterKeyRow(row);
  }

  async listMasterKeys(appId: string, page: PageRequest): Promise<Page<MasterKey>> {
    const position = decodeCursor(page.cursor);
    const rows = await this.db
      .selectFrom('master_keys')
      .selectAll()
      .where('app_id', '=', appId)
      .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromMasterKeyRow, (r) => [Number(r.created_at), r.id]);
  }

  async revokeMasterKey(id: string, at: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('master_keys')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      await trx.updateTable('tokens').set({ revoked_at: at }).where('master_key_id', '=', id).where('revoked_at', 'is', null).execute();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  // Operator tokens

  async insertOperatorToken(token: OperatorToken): Promise<void> {
    await this.db
      .insertInto('operator_tokens')
      .values({ id: token.id, hash: token.hash, name: token.name, created_at: token.createdAt, revoked_at: token.revokedAt })
      .execute();
  }

  async findOperatorTokenByHash(hash: string): Promise<OperatorToken | null> {
    const row = await this.db.selectFrom('operator_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row === undefined ? null : fromOperatorTokenRow(row);
  }

  // Signing keys

  async listSigningKeys(): Promise<SigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'asc').execute();
    return rows.map(fromSigningKeyRow);
  }

  async insertSigningKey(key: SigningKey): Promise<void> {
    await this.db.insertInto('signing_keys').values(toSigningKeyRow(key)).execute();
  }

  async rotateSigningKeys(options: { at: number; promote: string; newNext: SigningKey; publishedUntil: number }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: options.at, published_until: options.publishedUntil })
        .where('activated_at', 'is not', null)
        .where('retired_at', 'is', null)
        .execute();
      // A next key passed over (rotation to another algorithm) never signed: withdraw it now, or it would linger as a second "next".
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: options.at, published_until: options.at })
        .where('activated_at', 'is', null)
        .where('retired_at', 'is', null)
        .where('kid', '<>', options.promote)
        .execute();
      await trx.updateTable('signing_keys').set({ activated_at: options.at }).where('kid', '=', options.promote).execute();
      await trx.insertInto('signing_keys').values(toSigningKeyRow(options.newNext)).execute();
    });
  }

  // Audit

  async appendAudit(event: NewAuditEvent): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        at: event.at,
        action: event.action,
        actor: event.actor,
        app_id: event.appId ?? null,
        user_id: event.userId ?? null,
        session_id: event.sessionId ?? null,
        token_id: event.tokenId ?? null,
        ip: event.ip ?? null,
        detail: event.detail === undefined || event.detail === null ? null : JSON.stringify(event.detail),
      })
      .execute();
  }

  async listAudit(filter: AuditFilter, page: PageRequest): Promise<Page<ReturnType<typeof fromAuditRow>>> {
    const position = decodeCursor(page.cursor, 'integer');
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .$if(filter.action !== undefined, (q) => q.where('action', '=', filter.action!))
      .$if(filter.appId !== undefined, (q) => q.where('app_id', '=', filter.appId!))
      .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId!))
      .$if(filter.since !== undefined, (q) => q.where('at', '>=', filter.since!))
      .$if(position !== null, (q) => q.where('id', '<', Number(position![1])))
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    return toPage(rows, page, fromAuditRow, (r) => [0, Number(r.id)]);
  }
}

async function revokeEverythingOfUser(trx: Transaction<Database>, userId: number, at: number): Promise<void> {
  await trx.updateTable('sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  await trx.updateTable('tokens').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}
