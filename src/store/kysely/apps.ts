import type { Kysely } from 'kysely';
import type { App } from '../../core/model.js';
import { after, decodeCursor, toPage } from '../pagination.js';
import { fromAppRow, toAppRow, type Database } from '../schema.js';
import type { AppPatch, AppStore, Page, PageRequest } from '../store.js';

/** The app verbs of the Kysely store. */
export function appsVerbs(db: Kysely<Database>): AppStore {
  return {
    async insertApp(app: App): Promise<void> {
      await db.insertInto('apps').values(toAppRow(app)).execute();
    },

    async findAppById(id: string): Promise<App | null> {
      const row = await db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromAppRow(row);
    },

    async findAppByClientId(clientId: string): Promise<App | null> {
      const row = await db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      return row === undefined ? null : fromAppRow(row);
    },

    async findAppByName(name: string): Promise<App | null> {
      const row = await db
        .selectFrom('apps')
        .selectAll()
        .where('name', '=', name)
        .where('deleted_at', 'is', null)
        .orderBy('created_at', 'asc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? null : fromAppRow(row);
    },

    async findAppByClientSecretHash(hash: string): Promise<App | null> {
      const row = await db.selectFrom('apps').selectAll().where('client_secret_hash', '=', hash).where('deleted_at', 'is', null).executeTakeFirst();
      return row === undefined ? null : fromAppRow(row);
    },

    async listApps(page: PageRequest): Promise<Page<App>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
        .selectFrom('apps')
        .selectAll()
        .where('deleted_at', 'is', null)
        .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'asc', position!)))
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromAppRow, (r) => [Number(r.created_at), r.id]);
    },

    async countApps(): Promise<number> {
      const row = await db.selectFrom('apps').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async updateApp(id: string, patch: AppPatch): Promise<App | null> {
      const current = await this.findAppById(id);
      if (current === null || current.deletedAt !== null) return null;
      const { id: _id, client_id: _cid, created_at: _c, deleted_at: _d, ...row } = toAppRow({ ...current, ...patch });
      await db.updateTable('apps').set(row).where('id', '=', id).where('deleted_at', 'is', null).execute();
      return this.findAppById(id);
    },

    async deleteApp(id: string, at: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
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
    },
  };
}
