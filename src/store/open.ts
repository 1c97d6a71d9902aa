import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the store a `TOKEND_DATABASE_URL` names. */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) return openSqliteStore(databaseUrl.slice('sqlite:'.length));
  throw new Error('Postgres is not supported by this build yet: use a sqlite: URL for TOKEND_DATABASE_URL');
}
