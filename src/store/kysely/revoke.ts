import type { Kysely, SelectQueryBuilder, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/* Revocation steps shared by several verbs; each runs inside its caller's transaction. */

type Db = Kysely<Database> | Transaction<Database>;

type SessionIds = readonly string[] | SelectQueryBuilder<Database, 'sessions', { id: string }>;

/**
 * Revokes the tokens a set of sessions owns, and the tokens those minted (install tokens). Two
 * statements, not one with `session_id in … or parent_id in …`: Postgres cannot answer that OR
 * from the two indexes when a side is a subquery, and scanned the whole token table to log out.
 */
export async function revokeSessionTokens(db: Db, sessionIds: SessionIds, at: number): Promise<void> {
  const live = db.updateTable('tokens').set({ revoked_at: at }).where('revoked_at', 'is', null);
  await live.where('parent_id', 'in', (eb) => eb.selectFrom('tokens as t').select('t.id').where('t.session_id', 'in', sessionIds)).execute();
  await live.where('session_id', 'in', sessionIds).execute();
}

/** Every session and token of a user (install tokens carry the user too). */
export async function revokeEverythingOfUser(trx: Transaction<Database>, userId: number, at: number): Promise<void> {
  await trx.updateTable('sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  await trx.updateTable('tokens').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}
