import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { Actor } from './context.js';
import type { NewAuditEvent } from './model.js';
import { subscribe } from './observer.js';

export type AuditAction =
  | 'token.issued'
  | 'token.refreshed'
  | 'token.refresh_replayed'
  | 'token.refresh_reused'
  | 'token.revoked'
  | 'session.revoked'
  | 'token.leaked'
  | 'client_secret.leaked'
  | 'login.failed'
  | 'login.rate_limited'
  | `admin.${string}`;

export type AuditFields = Omit<NewAuditEvent, 'at' | 'action' | 'actor'>;

/** An event as the audit log recorded it, handed to `onRecord` listeners. */
export type RecordedAudit = NewAuditEvent & { action: AuditAction; actor: Actor };

/**
 * The audit trail: issuance, refresh, revocation, refresh reuse, failed logins
 * and every admin action. A failure to write it is reported, never hidden, but
 * does not undo the action it describes.
 */
export class AuditLog {
  private readonly listeners: Array<(event: RecordedAudit) => void> = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /**
   * Hears every event as it is recorded (metrics count them), whether or not
   * the store write then succeeds: the action happened either way. Returns
   * the function that unsubscribes.
   */
  onRecord(listener: (event: RecordedAudit) => void): () => void {
    return subscribe(this.listeners, listener);
  }

  async record(action: AuditAction, actor: Actor, fields: AuditFields = {}): Promise<void> {
    const event: RecordedAudit = { at: this.clock.now(), action, actor, ...fields };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error);
      }
    }
    try {
      await this.store.appendAudit(event);
    } catch (error) {
      this.onError(error);
    }
  }
}
