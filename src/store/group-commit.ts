import type SQLite from 'better-sqlite3';
import type { NewAuditEvent, Session, Token } from '../core/model.js';
import { settleAtTurnEnd } from '../core/turn-end.js';
import type { KyselyStore } from './kysely-store.js';
import { rotationResult } from './kysely/tokens.js';
import { toAuditRow, toSessionRow, toTokenRow, type SessionsTable, type TokensTable } from './schema.js';
import type { Rotation } from './store.js';

interface Job {
  write(): unknown;
  /** Several statements that must stand or fall together: run inside a savepoint. */
  atomic: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * On SQLite a commit costs more than the rows it carries: each one writes its
 * dirty pages to the WAL. The writes of issuance — tokens, sessions, refresh
 * rotations and their audit rows — that arrive in the same event-loop turn
 * are therefore committed together, in one transaction. Each caller still
 * learns its outcome only once the transaction has committed, so a token is
 * never answered before it is durable (SPEC §10). A write that fails is undone
 * alone — SQLite backs out a failed statement, and a savepoint backs out a
 * failed multi-statement write — and fails only its own caller.
 *
 * Writes almost never fail, and a savepoint per write cost 8-9 % of a
 * client_credentials request or a rotation (SQLite journals each page a
 * savepoint first touches). So a batch first runs without savepoints; only if
 * a write in it throws is the whole transaction rolled back and the batch run
 * again the careful way, each multi-statement write in its own savepoint.
 *
 * These writes are the hot path of issuance, so they run as statements
 * prepared once, synchronously, not as Kysely queries built per call (which
 * was a tenth of a client_credentials request). The Kysely versions in
 * src/store/kysely/ are what Postgres runs; the store contract tests hold the
 * two to the same behaviour. The batch takes Kysely's one connection first,
 * so it never lands inside a transaction Kysely has open on it.
 */
export function groupCommits(store: KyselyStore, database: SQLite.Database): KyselyStore {
  // Prepared at the first write: the tables do not exist before the store's migration.
  let prepared: ReturnType<typeof preparedWrites> | undefined;
  const write = () => (prepared ??= preparedWrites(database));
  // The usual batch: every write succeeds, and a failure anywhere rolls back all of it.
  const optimistically = database.transaction((jobs: Job[]): Outcome[] => jobs.map((job) => ({ ok: true, value: job.write() })));
  // After a failure: the same batch again, each failure its own caller's alone.
  const carefully = database.transaction((jobs: Job[]) =>
    jobs.map((job) => {
      const outcome = attempt(job);
      // Some failures (a full disk, an I/O error) make SQLite roll back the whole transaction. The writes after
      // it would then commit one by one while their callers hear of the failed COMMIT: stop, and fail them all.
      if (!outcome.ok && !database.inTransaction) throw outcome.error;
      return outcome;
    }),
  );
  // Called inside the batch's transaction, better-sqlite3 makes this a savepoint.
  const inSavepoint = database.transaction((job: Job) => job.write());
  let queue: Job[] = [];

  function attempt(job: Job): Outcome {
    try {
      return { ok: true, value: job.atomic ? inSavepoint(job) : job.write() };
    } catch (error) {
      return { ok: false, error };
    }
  }

  async function flush(): Promise<void> {
    const jobs = queue;
    queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = await store.db.connection().execute(async () => {
        try {
          return optimistically(jobs);
        } catch {
          return carefully(jobs);
        }
      });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  const enqueue = <T>(atomic: boolean, write: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.push({ write, atomic, resolve: resolve as (value: unknown) => void, reject }) === 1) settleAtTurnEnd(() => void flush());
    });

  return {
    ...store,
    // More than one statement runs in a savepoint: its rows stand or fall together.
    insertTokens: (tokens: Token[], audit?: NewAuditEvent) => {
      const statements = tokens.length + (audit === undefined ? 0 : 1);
      if (statements === 0) return Promise.resolve();
      return enqueue(statements > 1, () => {
        write().tokens(tokens);
        if (audit !== undefined) write().audit(audit);
      });
    },
    appendAudit: (event: NewAuditEvent) => enqueue(false, () => write().audit(event)),
    insertSession: (session: Session, tokens: Token[], audit?: NewAuditEvent) =>
      enqueue(true, () => {
        write().session(session);
        write().tokens(tokens);
        if (audit !== undefined) write().audit(audit);
      }),
    rotateRefreshToken: async (rotation: Rotation) => rotationResult(store.findTokenByHash, rotation, await enqueue(true, () => write().rotation(rotation))),
  };
}

/**
 * An INSERT of whole rows, named parameters bound by column, prepared at its
 * first row from that row's keys: the mappers in schema.ts always give every
 * column, so the table's column list lives there alone.
 */
function rowInsert<Row extends object>(database: SQLite.Database, table: string): (row: Row) => void {
  let statement: SQLite.Statement<[Row]> | undefined;
  const prepare = (names: string[]) => database.prepare<[Row]>(`insert into ${table} (${names.join(', ')}) values (${names.map((n) => `@${n}`).join(', ')})`);
  return (row) => {
    (statement ??= prepare(Object.keys(row))).run(row);
  };
}

/** The grouped writes as prepared statements: the same rows and the same gate as src/store/kysely/tokens.ts. */
function preparedWrites(database: SQLite.Database) {
  const token = rowInsert<TokensTable>(database, 'tokens');
  const session = rowInsert<SessionsTable>(database, 'sessions');
  const audit = rowInsert<ReturnType<typeof toAuditRow>>(database, 'audit_events');
  // The single atomic gate of rotation: only the first caller finds used_at still NULL.
  const consume = database.prepare<[number, string, string | null, string, string, number], { session_id: string | null }>(
    `update tokens set used_at = ?, successor_id = ?, successor_sealed = ?
     where hash = ? and app_id = ? and kind = 'refresh' and used_at is null and revoked_at is null and expires_at > ?
     returning session_id`,
  );
  const touchSession = database.prepare<[number, string]>('update sessions set last_used_at = ? where id = ?');
  const tokens = (rows: Token[]) => {
    for (const row of rows) token(toTokenRow(row));
  };
  return {
    tokens,
    session: (row: Session) => session(toSessionRow(row)),
    audit: (event: NewAuditEvent) => audit(toAuditRow(event)),
    /** Spends the refresh token and stores its successors; false when another caller spent it first. */
    rotation(r: Rotation): boolean {
      const consumed = consume.get(r.now, r.successorId, r.successorSealed, r.hash, r.appId, r.now);
      if (consumed === undefined) return false;
      tokens(r.successors);
      if (consumed.session_id !== null) touchSession.run(r.now, consumed.session_id);
      if (r.audit !== undefined) audit(toAuditRow(r.audit));
      return true;
    },
  };
}
