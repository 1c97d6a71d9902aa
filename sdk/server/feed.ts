import { backoff, sleep, type Clock, type Fetch } from '../http.js';
import type { FeedRevocation } from './revocations.js';

/** Revocation types this SDK understands; any other (a newer tokend) is taken as `all`: never fail open. */
const KNOWN = new Set(['token', 'token_hash', 'session', 'user', 'client', 'service_tokens', 'all']);

export interface FeedHandlers {
  /** A span of proven delivery begins at tokend's time `now`. */
  epoch(now: number): void;
  heartbeat(): void;
  revoked(event: FeedRevocation): void;
  /** The span ended: tokend's node cannot prove delivery, or the stream broke. */
  lost(): void;
}

/**
 * Follows tokend's server-sent revocation feed (`GET /v1/revocations`, the
 * WHATWG event-stream format), reconnecting with backoff for as long as it
 * runs. It only reports; what the verifier may trust is decided from that.
 */
export class RevocationFeed {
  private readonly abort = new AbortController();
  private running = false;

  constructor(
    private readonly options: { url: string; authorization: string; fetch: Fetch; clock: Clock; handlers: FeedHandlers; onError?: (error: unknown) => void },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  close(): void {
    this.running = false;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    for (let failures = 0; this.running; ) {
      try {
        const heard = await this.follow();
        failures = heard ? 0 : failures + 1;
      } catch (error) {
        failures++;
        if (this.running) this.options.onError?.(error);
      }
      this.options.handlers.lost();
      if (this.running) await sleep(250 + backoff(failures, 250, 5_000));
    }
  }

  /** One connection, read to its end; true if it carried at least one message. */
  private async follow(): Promise<boolean> {
    const response = await this.options.fetch(this.options.url, {
      headers: { authorization: this.options.authorization, accept: 'text/event-stream' },
      signal: this.abort.signal,
    });
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw new Error(`the revocation feed answered ${response.status}`);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    let heard = false;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return heard;
        buffer += decoder.decode(value, { stream: true });
        // Event-stream messages end with a blank line; a partial one waits for the next chunk.
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          heard = this.dispatch(message) || heard;
        }
      }
    } finally {
      void reader.cancel().catch(() => {});
    }
  }

  private dispatch(message: string): boolean {
    let event = 'message';
    let data = '';
    for (const line of message.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (data === '') return false;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(data) as Record<string, unknown>;
    } catch {
      // A message we cannot read might have been a revocation: drop the stream, trust again only after a new epoch.
      throw new Error('an unreadable message on the revocation feed');
    }
    const { handlers } = this.options;
    if (event === 'epoch' && typeof body.now === 'number') handlers.epoch(body.now);
    else if (event === 'heartbeat') handlers.heartbeat();
    else if (event === 'revoked') handlers.revoked(KNOWN.has(body.type as string) && typeof body.at === 'number' ? (body as FeedRevocation) : { type: 'all', at: Number.MAX_SAFE_INTEGER });
    else if (event === 'untrusted') handlers.lost();
    return true;
  }
}
