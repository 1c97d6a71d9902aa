import type { Store, Usage } from '../store/store.js';

/**
 * Last use of tokens, sessions and master keys, batched off the request path:
 * verification writes nothing to the store; a timer flushes what was seen
 * every `intervalMs` (a minute: a token's last use is written at most once a
 * minute), and `stop()` flushes the rest.
 */
export class UsageRecorder {
  private tokens = new Map<string, number>();
  private sessions = new Map<string, number>();
  private masterKeys = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly intervalMs = 60_000,
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
    // On SQLite a write holds the event loop: thousands of rows in one go stalled verification
    // for a second (seen with 12 k tokens over a 10 M-token store). Chunks, with a turn between.
    for (const chunk of chunks(usage, FLUSH_CHUNK)) {
      try {
        await this.store.recordUsage(chunk);
      } catch (error) {
        this.onError(error);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}

/** Rows written per transaction when usage is flushed. */
const FLUSH_CHUNK = 500;

/** Splits one flush into pieces of at most `size` rows, one kind of row per piece. */
function* chunks(usage: Usage, size: number): Generator<Usage> {
  for (const kind of ['tokens', 'sessions', 'masterKeys'] as const) {
    const rows = [...usage[kind]];
    for (let i = 0; i < rows.length; i += size) {
      yield { tokens: new Map(), sessions: new Map(), masterKeys: new Map(), [kind]: new Map(rows.slice(i, i + size)) };
    }
  }
}
