import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { Actor } from './context.js';
import type { NewAuditEvent } from './model.js';

export type AuditAction =
  | 'token.issued'
  | 'token.refreshed'
  | 'token.refresh_replayed'
  | 'token.refresh_reused'
  | 'token.revoked'
  | 'session.revoked'
  | 'login.failed'
  | 'login.rate_limited'
  | `admin.${string}`;

export type AuditFields = Omit<NewAuditEvent, 'at' | 'action' | 'actor'>;

/**
 * The audit trail: issuance, refresh, revocation, refresh reuse, failed logins
 * and every admin action. A failure to write it is reported, never hidden, but
 * does not undo the action it describes.
 */
export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async record(action: AuditAction, actor: Actor, fields: AuditFields = {}): Promise<void> {
    try {
      await this.store.appendAudit({ at: this.clock.now(), action, actor, ...fields });
    } catch (error) {
      this.onError(error);
    }
  }
}
