import { sql, type Kysely } from 'kysely';
import type { NewAuditEvent, Session, Token } from '../core/model.js';
import type { KyselyStore } from './kysely-store.js';
import { insertAuditRow } from './kysely/audit.js';
import { consumeRefreshToken, insertSessionRows, insertTokenRows, rotationResult } from './kysely/tokens.js';
import type { Database } from './schema.js';
import type { Rotation } from './store.js';

interface Job {
  write(db: Kysely<Database>): Promise<unknown>;
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
 */
export function groupCommits(store: KyselyStore): KyselyStore {
  let queue: Job[] = [];

  async function flush(): Promise<void> {
    const jobs = queue;
    queue = [];
    const outcomes: Outcome[] = [];
    try {
      await store.db.transaction().execute(async (trx) => {
        for (const job of jobs) outcomes.push(await attempt(trx, job));
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

  const enqueue = <T>(atomic: boolean, write: (db: Kysely<Database>) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.push({ write, atomic, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(() => void flush());
    });

  return {
    ...store,
    insertTokens: (tokens: Token[]) => (tokens.length === 0 ? Promise.resolve() : enqueue(false, (db) => insertTokenRows(db, tokens))),
    appendAudit: (event: NewAuditEvent) => enqueue(false, (db) => insertAuditRow(db, event)),
    insertSession: (session: Session, tokens: Token[]) => enqueue(true, (db) => insertSessionRows(db, session, tokens)),
    rotateRefreshToken: async (rotation: Rotation) => rotationResult(store.db, rotation, await enqueue(true, (db) => consumeRefreshToken(db, rotation))),
  };
}

async function attempt(trx: Kysely<Database>, job: Job): Promise<Outcome> {
  if (!job.atomic) {
    try {
      return { ok: true, value: await job.write(trx) };
    } catch (error) {
      return { ok: false, error };
    }
  }
  await sql`savepoint grouped_write`.execute(trx);
  try {
    const value = await job.write(trx);
    await sql`release grouped_write`.execute(trx);
    return { ok: true, value };
  } catch (error) {
    await sql`rollback to grouped_write`.execute(trx);
    await sql`release grouped_write`.execute(trx);
    return { ok: false, error };
  }
}
