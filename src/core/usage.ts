import type { Store } from '../store/store.js';

/**
 * Last use of tokens and sessions, batched off the request path: verification
 * writes nothing to the store; a timer flushes what was seen every `intervalMs`.
 */
export class UsageRecorder {
  private tokens = new Map<string, number>();
  private sessions = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly intervalMs = 15_000,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  seen(tokenId: string, sessionId: string | null, at: number): void {
    this.tokens.set(tokenId, at);
    if (sessionId !== null) this.sessions.set(sessionId, at);
  }

  async flush(): Promise<void> {
    if (this.tokens.size === 0 && this.sessions.size === 0) return;
    const tokens = this.tokens;
    const sessions = this.sessions;
    this.tokens = new Map();
    this.sessions = new Map();
    try {
      await this.store.recordUsage(tokens, sessions);
    } catch (error) {
      this.onError(error);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
