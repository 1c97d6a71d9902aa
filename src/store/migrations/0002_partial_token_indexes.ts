import type { Kysely } from 'kysely';

/**
 * A token's user, session, parent and master key are each set for some kinds
 * only: a client_credentials token has none of them, a service token only its
 * master key. Their indexes now hold only the rows where the column is set, so
 * issuing such a token writes four or three fewer index entries. Every query
 * that uses these indexes compares the column with `=` or `in`, which implies
 * it is not null, so SQLite and Postgres both still choose them.
 */
const PARTIAL: [index: string, columns: string[]][] = [
  ['tokens_session', ['session_id']],
  ['tokens_user', ['user_id', 'kind']],
  ['tokens_parent', ['parent_id']],
  ['tokens_master_key', ['master_key_id']],
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const [index, columns] of PARTIAL) {
    await db.schema.dropIndex(index).execute();
    await db.schema.createIndex(index).on('tokens').columns(columns).where(columns[0]!, 'is not', null).execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [index, columns] of PARTIAL) {
    await db.schema.dropIndex(index).execute();
    await db.schema.createIndex(index).on('tokens').columns(columns).execute();
  }
}
