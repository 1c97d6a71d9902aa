import type { NewAuditEvent, Session, Token } from '../core/model.js';
import { settleAtTurnEnd } from '../core/turn-end.js';
import type { KyselyStore } from './kysely-store.js';
import { ISSUED_PARAMETERS, MOST_PARAMETERS, insertIssued } from './kysely/tokens.js';

interface Job {
  session: Session | undefined;
  tokens: Token[];
  audit: NewAuditEvent | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** A Postgres integrity-constraint violation (SQLSTATE class 23): a fault of one row, not of the store. */
const isRowFault = (error: unknown): boolean => String((error as { code?: unknown } | null)?.code ?? '').startsWith('23');

/**
 * On Postgres an issuance is one statement (a login's session, the token rows,
 * the audit row), and each statement is a round trip and a commit: a `writev`
 * and a wake-up of a Postgres backend for tokend, a parse, plan and WAL flush
 * for Postgres. The issuances of one event-loop turn (client_credentials,
 * service and install tokens, logins) are therefore written as one statement
 * (as several when they bind more parameters than one statement may), which
 * commits them all or none; each caller is answered once it has committed
 * (SPEC §10). If a row breaks a constraint, each issuance of that statement
 * runs again alone, so that failure is its own caller's; any other failure
 * (the store out of reach) is every caller's of that statement. Rotations are
 * not grouped: each carries its own gate (the refresh token must still be
 * unspent).
 */
export function groupIssuance(store: KyselyStore): KyselyStore {
  let queue: Job[] = [];

  async function flush(): Promise<void> {
    const jobs = queue;
    queue = [];
    await Promise.all(statementsOf(jobs).map(write));
  }

  /** One group's statement; if a row breaks a constraint, each of its issuances again alone. */
  async function write(jobs: Job[]): Promise<void> {
    try {
      const rows = {
        sessions: jobs.flatMap((job) => (job.session === undefined ? [] : [job.session])),
        tokens: jobs.flatMap((job) => job.tokens),
        audits: jobs.flatMap((job) => (job.audit === undefined ? [] : [job.audit])),
      };
      // Only a group of one is prepared: a group's text varies with its size, and preparing each would crowd
      // the hot single statements (the rotation's, the read by hash) out of the bounded set (kysely/prepared.ts).
      await insertIssued(store.db, rows, jobs.length === 1);
    } catch (error) {
      if (jobs.length === 1 || !isRowFault(error)) {
        for (const job of jobs) job.reject(error);
        return;
      }
      const alone = (job: Job) => (job.session === undefined ? store.insertTokens(job.tokens, job.audit) : store.insertSession(job.session, job.tokens, job.audit));
      await Promise.all(jobs.map((job) => alone(job).then(job.resolve, job.reject)));
      return;
    }
    for (const job of jobs) job.resolve();
  }

  const enqueue = (session: Session | undefined, tokens: Token[], audit: NewAuditEvent | undefined) =>
    new Promise<void>((resolve, reject) => {
      if (queue.push({ session, tokens, audit, resolve, reject }) === 1) settleAtTurnEnd(() => void flush());
    });

  return {
    ...store,
    insertTokens: (tokens: Token[], audit?: NewAuditEvent) => (tokens.length === 0 && audit === undefined ? Promise.resolve() : enqueue(undefined, tokens, audit)),
    insertSession: (session: Session, tokens: Token[], audit?: NewAuditEvent) => enqueue(session, tokens, audit),
  };
}

/** A job's parameters in the grouped statement. */
const parametersOf = (job: Job): number =>
  (job.session === undefined ? 0 : ISSUED_PARAMETERS.session) + job.tokens.length * ISSUED_PARAMETERS.token + (job.audit === undefined ? 0 : ISSUED_PARAMETERS.audit);

/**
 * A turn's issuances cut into groups that each fit one statement: a burst of
 * 3,000 client_credentials requests in one turn is 84,000 parameters, and a
 * statement binds at most 65,535 (past that, every caller of the group failed).
 */
function statementsOf(jobs: Job[]): Job[][] {
  const groups: Job[][] = [];
  let group: Job[] = [];
  let parameters = 0;
  for (const job of jobs) {
    const more = parametersOf(job);
    if (group.length > 0 && parameters + more > MOST_PARAMETERS) {
      groups.push(group);
      group = [];
      parameters = 0;
    }
    group.push(job);
    parameters += more;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
