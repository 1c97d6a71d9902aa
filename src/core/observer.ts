import type { TokenKind } from './tokens.js';

/**
 * The ways into tokend: OAuth 2.0, the four seed dialects that have a file of
 * their own, tokend's self-service and operator APIs. A fixed set, so a
 * metric labelled by door never grows with what clients send.
 */
export const DOORS = ['oauth', 'jsonapi', 'v1-oauth', 'master-key', 'install-token', 'self-service', 'admin', 'other'] as const;
export type Door = (typeof DOORS)[number];

/** One verification, as `verifyToken` saw it. */
export interface VerificationReport {
  /** The verified token's kind; for a refusal, the kind its prefix claims, or null (a JWT, or no valid prefix). */
  readonly kind: TokenKind | null;
  readonly ok: boolean;
  /** Answered from the verification cache, with no store read. */
  readonly cached: boolean;
  readonly seconds: number;
  readonly door: Door | undefined;
}

type Listener<T> = (value: T) => void;

/**
 * What the core tells observers (metrics) besides its audit log: each
 * verification, and the revocation fan-out lag the bus measures. The core
 * knows nothing of who listens; with no listener a report costs one loop over
 * an empty array. A listener that throws is reported, never allowed to fail
 * the verification it observes.
 */
export class CoreObserver {
  private readonly verifications: Array<Listener<VerificationReport>> = [];
  private readonly lags: Array<Listener<number>> = [];

  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** Returns the function that unsubscribes the listener. */
  onVerification(listener: Listener<VerificationReport>): () => void {
    return subscribe(this.verifications, listener);
  }

  /** Seconds a heartbeat took through Redis and back: how late a revocation reaches the other nodes. */
  onFanOutLag(listener: Listener<number>): () => void {
    return subscribe(this.lags, listener);
  }

  verified(report: VerificationReport): void {
    this.emit(this.verifications, report);
  }

  fanOutLag(seconds: number): void {
    this.emit(this.lags, seconds);
  }

  private emit<T>(listeners: Array<Listener<T>>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}

/** Adds a listener to a list; the answer removes it again. */
export function subscribe<T>(listeners: Array<Listener<T>>, listener: Listener<T>): () => void {
  listeners.push(listener);
  return () => {
    const at = listeners.indexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  };
}
