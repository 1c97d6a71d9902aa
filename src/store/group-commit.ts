import type SQLite from 'better-sqlite3';
import type { NewAuditEvent, Session, Token } from '../core/model.js';
import type { KyselyStore } from './kysely-store.js';
import { rotationResult } from './kysely/tokens.js';
import { toAuditRow, toSessionRow, toTokenRow, type AuditEventsTable, type SessionsTable, type TokensTable } from './schema.js';
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
  const inOneTransaction = database.transaction((jobs: Job[]) =>
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
      outcomes = await store.db.connection().execute(async () => inOneTransaction(jobs));
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
      if (queue.push({ write, atomic, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(() => void flush());
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
    rotateRefreshToken: async (rotation: Rotation) => rotationResult(store.db, rotation, await enqueue(true, () => write().rotation(rotation))),
  };
}

/** Every column of a table (the compiler checks the list is whole), for an INSERT that binds a row by name. */
const every = <Row>(names: Record<keyof Row, true>) => Object.keys(names);
const t = true;
const tokenColumns = every<TokensTable>({
  id: t, hash: t, kind: t, format: t, app_id: t, user_id: t, session_id: t, parent_id: t, master_key_id: t, install_id: t, name: t, scopes: t,
  created_at: t, expires_at: t, revoked_at: t, last_used_at: t, used_at: t, successor_id: t, successor_sealed: t,
});
const sessionColumns = every<SessionsTable>({ id: t, user_id: t, app_id: t, device_info: t, ip: t, user_agent: t, created_at: t, last_used_at: t, revoked_at: t });
const auditColumns = every<Omit<AuditEventsTable, 'id'>>({ at: t, action: t, actor: t, app_id: t, user_id: t, session_id: t, token_id: t, ip: t, detail: t });

const insertSql = (table: string, names: readonly string[]) => `insert into ${table} (${names.join(', ')}) values (${names.map((n) => `@${n}`).join(', ')})`;

/** The grouped writes as prepared statements: the same rows and the same gate as src/store/kysely/tokens.ts. */
function preparedWrites(database: SQLite.Database) {
  const token = database.prepare<[TokensTable]>(insertSql('tokens', tokenColumns));
  const session = database.prepare<[SessionsTable]>(insertSql('sessions', sessionColumns));
  const audit = database.prepare(insertSql('audit_events', auditColumns));
  // The single atomic gate of rotation: only the first caller finds used_at still NULL.
  const consume = database.prepare<[number, string, string | null, string, string, number], { session_id: string | null }>(
    `update tokens set used_at = ?, successor_id = ?, successor_sealed = ?
     where hash = ? and app_id = ? and kind = 'refresh' and used_at is null and revoked_at is null and expires_at > ?
     returning session_id`,
  );
  const touchSession = database.prepare<[number, string]>('update sessions set last_used_at = ? where id = ?');
  const tokens = (rows: Token[]) => {
    for (const row of rows) token.run(toTokenRow(row));
  };
  return {
    tokens,
    session(row: Session): void {
      session.run(toSessionRow(row));
    },
    audit(event: NewAuditEvent): void {
      audit.run(toAuditRow(event));
    },
    /** Spends the refresh token and stores its successors; false when another caller spent it first. */
    rotation(r: Rotation): boolean {
      const consumed = consume.get(r.now, r.successorId, r.successorSealed, r.hash, r.appId, r.now);
      if (consumed === undefined) return false;
      tokens(r.successors);
      if (consumed.session_id !== null) touchSession.run(r.now, consumed.session_id);
      return true;
    },
  };
}
