import { Migrator, type Kysely } from 'kysely';
import { appsVerbs } from './kysely/apps.js';
import { auditVerbs } from './kysely/audit.js';
import { keysVerbs } from './kysely/keys.js';
import { tokensVerbs } from './kysely/tokens.js';
import { usersVerbs } from './kysely/users.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** The Store over Kysely, with the Kysely instance for what only tests and tools need. */
export type KyselyStore = Store & { readonly db: Kysely<Database> };

/**
 * One implementation of the Store for every Kysely dialect we support,
 * composed of one set of verbs per concept (src/store/kysely/).
 */
export function kyselyStore(db: Kysely<Database>): KyselyStore {
  return {
    db,
    async migrate(): Promise<void> {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      const { error, results } = await migrator.migrateToLatest();
      const failed = results?.find((r) => r.status === 'Error');
      if (error !== undefined || failed !== undefined) {
        throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
      }
    },
    async ping(): Promise<void> {
      await db.selectFrom('apps').select('id').limit(1).execute();
    },
    async close(): Promise<void> {
      await db.destroy();
    },
    ...appsVerbs(db),
    ...usersVerbs(db),
    ...tokensVerbs(db),
    ...keysVerbs(db),
    ...auditVerbs(db),
  };
}
