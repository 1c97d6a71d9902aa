import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { groupIssuance } from './grouped-issuance.js';
import { isPrepared } from './kysely/prepared.js';
import { kyselyStore, type KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

export interface PostgresOptions {
  /** Connections per node. */
  poolSize: number;
  /** A statement running longer is cancelled by the server, so no request hangs on the store. */
  statementTimeoutMs: number;
  /** Waiting longer for a connection fails the request (503) instead of queueing it. */
  connectTimeoutMs: number;
  onError?: (error: unknown) => void;
}

export const DEFAULT_POSTGRES_OPTIONS: PostgresOptions = { poolSize: 10, statementTimeoutMs: 5_000, connectTimeoutMs: 2_000 };

/** bigint columns (millisecond times, serial ids) as numbers: they stay far below 2^53. */
const BIGINT = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === BIGINT ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** One name per statement text, for this process's life: node-postgres prepares a name once per connection. */
const names = new Map<string, string>();
function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `tokend_${names.size}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Kysely hands node-postgres a text and values, which it runs unnamed:
 * parsed and planned each time. A statement marked by executePrepared goes
 * as a named one instead, which each connection prepares once.
 */
function namedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  Object.assign(client, {
    query: (text: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && Array.isArray(rest[0]) && isPrepared(text) ? query({ name: nameOf(text), text, values: rest[0] }, ...rest.slice(1)) : query(text, ...rest),
  });
}

/**
 * The store for more than one node: the same Kysely store and migrations as
 * SQLite, over a pool with server-side statement timeouts, so a store outage
 * fails requests fast and the pool heals by itself when the database returns.
 */
export function openPostgresStore(url: string, options: PostgresOptions = DEFAULT_POSTGRES_OPTIONS): KyselyStore {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: 'tokend',
    types,
  });
  // A connection dropped by the server (or the network) must not crash the process: node-postgres
  // emits 'error' on the pool for idle clients and on the client itself while it is checked out,
  // and an unheard 'error' event is an uncaught exception. The query in flight fails (503) and the
  // pool replaces the client.
  pool.on('error', (error) => options.onError?.(error));
  pool.on('connect', (client) => client.on('error', (error) => options.onError?.(error)));
  pool.on('connect', namedStatements);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return groupIssuance(kyselyStore(db));
}
