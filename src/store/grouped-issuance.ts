import type { NewAuditEvent, Token } from '../core/model.js';
import type { KyselyStore } from './kysely-store.js';
import { insertIssued } from './kysely/tokens.js';

interface Job {
  tokens: Token[];
  audit: NewAuditEvent | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** A Postgres integrity-constraint violation (SQLSTATE class 23): a fault of one row, not of the store. */
const isRowFault = (error: unknown): boolean => String((error as { code?: unknown } | null)?.code ?? '').startsWith('23');

/**
 * On Postgres an issuance is one statement (its token rows and audit row), and
 * each statement is a round trip and a commit: a `writev` and a wake-up of a
 * Postgres backend for tokend, a parse, plan and WAL flush for Postgres. The
 * tokens issued in one event-loop turn (client_credentials, service and
 * install tokens) are therefore written as one statement, which commits them
 * all or none; each caller is answered once it has committed (SPEC §10). If a
 * row breaks a constraint, each issuance runs again alone, so that failure
 * is its own caller's; any other failure (the store out of reach) is every
 * caller's. Sessions and rotations are not grouped: each is a statement whose
 * conditions (the rotation's gate) are its own.
 */
export function groupIssuance(store: KyselyStore): KyselyStore {
  let queue: Job[] = [];

  async function flush(): Promise<void> {
    const jobs = queue;
    queue = [];
    try {
      await insertIssued(store.db, { tokens: jobs.flatMap((job) => job.tokens), audits: jobs.flatMap((job) => (job.audit === undefined ? [] : [job.audit])) });
    } catch (error) {
      if (jobs.length === 1 || !isRowFault(error)) {
        for (const job of jobs) job.reject(error);
        return;
      }
      await Promise.all(jobs.map((job) => store.insertTokens(job.tokens, job.audit).then(job.resolve, job.reject)));
      return;
    }
    for (const job of jobs) job.resolve();
  }

  return {
    ...store,
    insertTokens: (tokens: Token[], audit?: NewAuditEvent) => {
      if (tokens.length === 0 && audit === undefined) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        if (queue.push({ tokens, audit, resolve, reject }) === 1) setImmediate(() => void flush());
      });
    },
  };
}
