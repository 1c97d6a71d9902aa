import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { kyselyStore, type KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

/**
 * The embedded store. WAL lets readers run beside the one writer; with
 * synchronous=NORMAL a committed transaction survives a killed process
 * (only an OS crash or power loss can lose the last commits).
 */
export function openSqliteStore(path: string): KyselyStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new SQLite(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return kyselyStore(db);
}
