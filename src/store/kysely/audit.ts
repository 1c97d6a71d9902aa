import type { Kysely } from 'kysely';
import type { NewAuditEvent } from '../../core/model.js';
import { decodeCursor, toPage } from '../pagination.js';
import { fromAuditRow, toAuditRow, type Database } from '../schema.js';
import type { AuditFilter, AuditStore, Page, PageRequest } from '../store.js';

/** The audit trail in the Kysely store. */
export function auditVerbs(db: Kysely<Database>): AuditStore {
  return {
    async appendAudit(event: NewAuditEvent): Promise<void> {
      await db.insertInto('audit_events').values(toAuditRow(event)).execute();
    },

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
