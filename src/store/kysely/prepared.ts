import type { CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Statements worth preparing once per connection, where the dialect can
 * (Postgres; see namedStatements in ../postgres.ts). Postgres otherwise
 * parses and plans every statement anew: for the rotation's one statement
 * (two token rows in a VALUES list, four CTEs) that was most of Postgres's
 * work, 545-565 of its CPU µs a rotation against 256-268 prepared.
 *
 * Only hot statements whose answer has a fixed shape are marked: writes, and
 * reads that name their columns. A prepared `select *` would fail ("cached
 * plan must not change result type") once a migration added a column under a
 * running node. Their texts vary only with how many rows they carry, so the
 * set stays small; it is bounded anyway.
 */
const texts = new Set<string>();
const MOST = 64;

/** Runs a compiled statement, marked as worth preparing. */
export function executePrepared<R>(db: Kysely<Database>, compiled: CompiledQuery<R>): Promise<QueryResult<R>> {
  if (texts.size < MOST) texts.add(compiled.sql);
  return db.executeQuery(compiled);
}

/** Whether a statement's text was marked by executePrepared. */
export const isPrepared = (text: string): boolean => texts.has(text);
