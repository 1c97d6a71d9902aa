import type { Kysely } from 'kysely';
import type { NewAuditEvent } from '../../core/model.js';
import { decodeCursor, toPage } from '../pagination.js';
import { fromAuditRow, type Database } from '../schema.js';
import type { AuditFilter, AuditStore, Page, PageRequest } from '../store.js';

/** One audit row; also what a grouped commit runs (src/store/group-commit.ts). */
export async function insertAuditRow(db: Kysely<Database>, event: NewAuditEvent): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: event.at,
      action: event.action,
      actor: event.actor,
      app_id: event.appId ?? null,
      user_id: event.userId ?? null,
      session_id: event.sessionId ?? null,
      token_id: event.tokenId ?? null,
      ip: event.ip ?? null,
      detail: event.detail === undefined || event.detail === null ? null : JSON.stringify(event.detail),
    })
    .execute();
}

/** The audit trail in the Kysely store. */
export function auditVerbs(db: Kysely<Database>): AuditStore {
  return {
    appendAudit: (event: NewAuditEvent) => insertAuditRow(db, event),

    async listAudit(filter: AuditFilter, page: PageRequest): Promise<Page<ReturnType<typeof fromAuditRow>>> {
      const position = decodeCursor(page.cursor, 'integer');
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .$if(filter.action !== undefined, (q) => q.where('action', '=', filter.action!))
        .$if(filter.appId !== undefined, (q) => q.where('app_id', '=', filter.appId!))
        .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId!))
        .$if(filter.since !== undefined, (q) => q.where('at', '>=', filter.since!))
        .$if(position !== null, (q) => q.where('id', '<', Number(position![1])))
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromAuditRow, (r) => [0, Number(r.id)]);
    },
  };
}
