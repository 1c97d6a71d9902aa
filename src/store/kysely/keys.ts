import type { Kysely } from 'kysely';
import type { MasterKey, OperatorToken, SigningKey } from '../../core/model.js';
import { after, decodeCursor, toPage } from '../pagination.js';
import {
  fromMasterKeyRow,
  fromOperatorTokenRow,
  fromSigningKeyRow,
  toSigningKeyRow,
  type Database,
} from '../schema.js';
import type { KeyStore, Page, PageRequest } from '../store.js';

/** Master keys, operator tokens and signing keys in the Kysely store. */
export function keysVerbs(db: Kysely<Database>): KeyStore {
  return {
    // Master keys

    async insertMasterKey(key: MasterKey): Promise<void> {
      await db
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
    },

    async findMasterKeyByHash(hash: string): Promise<MasterKey | null> {
      const row = await db.selectFrom('master_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row === undefined ? null : fromMasterKeyRow(row);
    },

    async findMasterKeyById(id: string): Promise<MasterKey | null> {
      const row = await db.selectFrom('master_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromMasterKeyRow(row);
    },

    async listMasterKeys(appId: string, page: PageRequest): Promise<Page<MasterKey>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
        .selectFrom('master_keys')
        .selectAll()
        .where('app_id', '=', appId)
        .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromMasterKeyRow, (r) => [Number(r.created_at), r.id]);
    },

    async revokeMasterKey(id: string, at: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('master_keys')
          .set({ revoked_at: at })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        await trx.updateTable('tokens').set({ revoked_at: at }).where('master_key_id', '=', id).where('revoked_at', 'is', null).execute();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    // Operator tokens

    async insertOperatorToken(token: OperatorToken): Promise<void> {
      await db
        .insertInto('operator_tokens')
        .values({ id: token.id, hash: token.hash, name: token.name, created_at: token.createdAt, revoked_at: token.revokedAt })
        .execute();
    },

    async findOperatorTokenByHash(hash: string): Promise<OperatorToken | null> {
      const row = await db.selectFrom('operator_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row === undefined ? null : fromOperatorTokenRow(row);
    },

    // Signing keys

    async listSigningKeys(): Promise<SigningKey[]> {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'asc').execute();
      return rows.map(fromSigningKeyRow);
    },

    async insertSigningKey(key: SigningKey): Promise<void> {
      await db.insertInto('signing_keys').values(toSigningKeyRow(key)).execute();
    },

    async rotateSigningKeys(options: { at: number; promote: string; newNext: SigningKey; publishedUntil: number }): Promise<void> {
      await db.transaction().execute(async (trx) => {
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
    },
  };
}
