import { PostgresAdapter, type Kysely } from 'kysely';
import type { Session, Token } from '../../core/model.js';
import { after, decodeCursor, toPage } from '../pagination.js';
import { fromSessionRow, fromTokenRow, toSessionRow, toTokenRow, type Database } from '../schema.js';
import { revokeSessionTokens } from './revoke.js';
import type { ExpiredTokenSweep, Page, PageRequest, Rotation, RotationResult, SweptRows, TokenFilter, TokenStore, Usage } from '../store.js';

/** Token rows as one INSERT. (SQLite's grouped commits write these rows with prepared statements: src/store/group-commit.ts.) */
async function insertTokenRows(db: Kysely<Database>, tokens: Token[]): Promise<void> {
  if (tokens.length === 0) return;
  await db.insertInto('tokens').values(tokens.map(toTokenRow)).execute();
}

/** A session and its first tokens; the caller runs it inside a transaction. */
async function insertSessionRows(trx: Kysely<Database>, session: Session, tokens: Token[]): Promise<void> {
  await trx.insertInto('sessions').values(toSessionRow(session)).execute();
  await insertTokenRows(trx, tokens);
}

/**
 * Rotation's writes, inside the caller's transaction: spends the refresh token
 * and inserts its successors. False when another caller spent it first.
 */
async function consumeRefreshToken(trx: Kysely<Database>, rotation: Rotation): Promise<boolean> {
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
  await insertTokenRows(trx, rotation.successors);
  if (consumed.session_id !== null) {
    await trx.updateTable('sessions').set({ last_used_at: rotation.now }).where('id', '=', consumed.session_id).execute();
  }
  return true;
}

/** What a rotation answers once `consumeRefreshToken` has run: a loser is told the token as it now stands. */
export async function rotationResult(db: Kysely<Database>, rotation: Rotation, consumed: boolean): Promise<RotationResult> {
  return consumed ? { outcome: 'rotated' } : { outcome: 'lost', token: await tokenByHash(db, rotation.hash) };
}

async function tokenByHash(db: Kysely<Database>, hash: string): Promise<Token | null> {
  const row = await db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  return row === undefined ? null : fromTokenRow(row);
}

/** Session and token verbs of the Kysely store: issuance, rotation, revocation trees, usage, sweeping. */
export function tokensVerbs(db: Kysely<Database>): TokenStore {
  return {
    // Sessions

    async insertSession(session: Session, tokens: Token[]): Promise<void> {
      await db.transaction().execute((trx) => insertSessionRows(trx, session, tokens));
    },

    async findSession(id: string): Promise<Session | null> {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromSessionRow(row);
    },

    async listSessionsForUser(userId: number, page: PageRequest): Promise<Page<Session>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
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
    },

    async revokeSession(id: string, at: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('sessions')
          .set({ revoked_at: at })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        await revokeSessionTokens(trx, [id], at);
        return Number(result.numUpdatedRows) > 0;
      });
    },

    // Tokens

    insertTokens: (tokens: Token[]) => insertTokenRows(db, tokens),

    findTokenByHash: (hash: string) => tokenByHash(db, hash),

    async findTokenById(id: string): Promise<Token | null> {
      const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromTokenRow(row);
    },

    async listTokens(filter: TokenFilter, page: PageRequest): Promise<Page<Token>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
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
    },

    async revokeToken(id: string, at: number): Promise<boolean> {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: at })
        .where((eb) => eb.or([eb('id', '=', id), eb('parent_id', '=', id)]))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async rotateRefreshToken(rotation: Rotation): Promise<RotationResult> {
      return rotationResult(db, rotation, await db.transaction().execute((trx) => consumeRefreshToken(trx, rotation)));
    },

    async recordUsage({ tokens, sessions, masterKeys }: Usage): Promise<void> {
      if (tokens.size === 0 && sessions.size === 0 && masterKeys.size === 0) return;
      await db.transaction().execute(async (trx) => {
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
    },

    async deleteExpiredTokens({ before, batchSize }: ExpiredTokenSweep): Promise<SweptRows> {
      // Postgres: SKIP LOCKED lets sweeps on many nodes take disjoint rows and never wait on
      // each other or on a request's lock, so they cannot deadlock. SQLite has one writer anyway.
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      const expired = db
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
      const deleted = await db.deleteFrom('tokens').where('id', 'in', expired).returning('session_id').execute();
      const sessionIds = [...new Set(deleted.flatMap((row) => (row.session_id === null ? [] : [row.session_id])))];
      if (sessionIds.length === 0) return { tokens: deleted.length, sessions: 0 };
      // A session with no token left can never be used or refreshed again. A separate statement,
      // after the tokens' commit: two nodes sweeping one session's tokens at once each saw the
      // other's rows still there, but whichever checks last sees them gone.
      const emptied = db
        .selectFrom('sessions as s')
        .select('s.id')
        .where('s.id', 'in', sessionIds)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('tokens as t').select('t.id').whereRef('t.session_id', '=', 's.id'))))
        .$if(postgres, (q) => q.forUpdate().skipLocked());
      const sessions = await db.deleteFrom('sessions').where('id', 'in', emptied).executeTakeFirst();
      return { tokens: deleted.length, sessions: Number(sessions.numDeletedRows) };
    },
  };
}
