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
 * and every admin action. Issuance writes its row with the tokens, all or
 * none (`announce`), and a rotation with the rotation (`draft`, then `tell`
 * once it has won); any other event is written after its action, and a
 * failure to write it is reported, never hidden, but does not undo the action.
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

  /**
   * An event whose row the store writes together with the action it
   * describes (`insertTokens`, `insertSession`), so an issued token always has
   * its audit row and a failed issuance leaves none. Listeners hear it now.
   */
  announce(action: AuditAction, actor: Actor, fields: AuditFields = {}): RecordedAudit {
    return this.tell(this.draft(action, actor, fields));
  }

  /**
   * An event for a write that may not happen (a rotation another caller can
   * win): the store writes its row only with the write, and listeners hear
   * nothing until `tell`.
   */
  draft(action: AuditAction, actor: Actor, fields: AuditFields = {}): RecordedAudit {
    return { at: this.clock.now(), action, actor, ...fields };
  }

  /** Tells the listeners of a drafted event, once its write has happened. */
  tell(event: RecordedAudit): RecordedAudit {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error);
      }
    }
    return event;
  }

  async record(action: AuditAction, actor: Actor, fields: AuditFields = {}): Promise<void> {
    const event = this.announce(action, actor, fields);
    try {
      await this.store.appendAudit(event);
    } catch (error) {
      this.onError(error);
    }
  }
}
