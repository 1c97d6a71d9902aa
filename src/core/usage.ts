import type { Store } from '../store/store.js';

/**
 * Last use of tokens, sessions and master keys, batched off the request path:
 * verification writes nothing to the store; a timer flushes what was seen
 * every `intervalMs` (and `stop()` flushes the rest).
 */
export class UsageRecorder {
  private tokens = new Map<string, number>();
  private sessions = new Map<string, number>();
  private masterKeys = new Map<string, number>();
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

  masterKeySeen(id: string, at: number): void {
    this.masterKeys.set(id, at);
  }

  async flush(): Promise<void> {
    if (this.tokens.size === 0 && this.sessions.size === 0 && this.masterKeys.size === 0) return;
    const usage = { tokens: this.tokens, sessions: this.sessions, masterKeys: this.masterKeys };
    this.tokens = new Map();
    this.sessions = new Map();
    this.masterKeys = new Map();
    try {
      await this.store.recordUsage(usage);
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
