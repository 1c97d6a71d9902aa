import type { RevocationEvent } from './events.js';

/**
 * Carries revocations to every node's verification cache. `trusted` says
 * whether this node can currently rely on hearing every revocation; when it
 * cannot, caches must be bypassed (never fail open).
 */
export interface RevocationBus {
  /** Delivers to this node's listeners at once, and to the other nodes. */
  publish(event: RevocationEvent): void;
  onEvent(listener: (event: RevocationEvent) => void): void;
  /** Called with false when delivery can no longer be proven, and true when it is back. */
  onTrustChange(listener: (trusted: boolean) => void): void;
  readonly trusted: boolean;
  close(): Promise<void>;
}

/** One node, no Redis: every revocation happens here, so delivery is a function call. */
export class LocalBus implements RevocationBus {
  private readonly listeners: Array<(event: RevocationEvent) => void> = [];
  readonly trusted = true;

  publish(event: RevocationEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  onEvent(listener: (event: RevocationEvent) => void): void {
    this.listeners.push(listener);
  }

  onTrustChange(): void {}

  async close(): Promise<void> {}
}
