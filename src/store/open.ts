import { DEFAULT_POSTGRES_OPTIONS, openPostgresStore, type PostgresOptions } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the store a `TOKEND_DATABASE_URL` names: `sqlite:PATH`, `sqlite::memory:` or `postgres://…`. */
export function openStore(databaseUrl: string, postgres: Partial<PostgresOptions> = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) return openSqliteStore(databaseUrl.slice('sqlite:'.length));
  return openPostgresStore(databaseUrl, { ...DEFAULT_POSTGRES_OPTIONS, ...postgres });
}
