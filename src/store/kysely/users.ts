import type { Kysely } from 'kysely';
import type { User } from '../../core/model.js';
import { decodeCursor, toPage } from '../pagination.js';
import { fromUserRow, type Database } from '../schema.js';
import type { NewUser, Page, PageRequest, UserStore } from '../store.js';
import { revokeEverythingOfUser, revokeSessionTokens } from './revoke.js';

/** The user verbs of the Kysely store. */
export function usersVerbs(db: Kysely<Database>): UserStore {
  return {
    async insertUser(user: NewUser): Promise<User | null> {
      const row = await db
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
    },

    async findUserById(id: number): Promise<User | null> {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromUserRow(row);
    },

    async findUserByUsernameKey(key: string): Promise<User | null> {
      const row = await db.selectFrom('users').selectAll().where('username_key', '=', key).executeTakeFirst();
      return row === undefined ? null : fromUserRow(row);
    },

    async listUsers(page: PageRequest): Promise<Page<User>> {
      const position = decodeCursor(page.cursor, 'integer');
      const rows = await db
        .selectFrom('users')
        .selectAll()
        .$if(position !== null, (q) => q.where('id', '>', Number(position![1])))
        .orderBy('id', 'asc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromUserRow, (r) => [0, Number(r.id)]);
    },

    async setUserDisabled(id: number, disabled: boolean, at: number): Promise<User | null> {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ disabled: disabled ? 1 : 0, updated_at: at }).where('id', '=', id).execute();
        if (disabled) await revokeEverythingOfUser(trx, id, at);
      });
      return this.findUserById(id);
    },

    async setUserPassword(id: number, passwordHash: string, at: number, keepSessionId: string | null): Promise<User | null> {
      await db.transaction().execute(async (trx) => {
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
    },

    async deleteUser(id: number, at: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await revokeEverythingOfUser(trx, id, at);
        const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },
  };
}
