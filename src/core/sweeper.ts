import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';

/** The longest `refresh_reuse_grace_seconds` an app may have: a replay is answered up to this long after a refresh token's use. */
const MAX_REFRESH_GRACE_SECONDS = 3600;

export interface SweeperOptions {
  /** Between runs, ±10% so that nodes started together drift apart. */
  intervalMs: number;
  /**
   * Only tokens expired longer ago than this go: a just-expired token is still listed to
   * the operator, still detects reuse, and is safe from a node whose clock runs ahead.
   */
  retentionSeconds: number;
  /** Token rows per delete statement. */
  batchSize: number;
  /** Token rows per run; what is left waits for the next run. */
  maxPerRun: number;
  /** Every run ends in exactly one event: what it deleted and how long it took, or why it failed. */
  onEvent: (event: SweepEvent) => void;
}

export interface SweepReport {
  tokens: number;
  sessions: number;
  batches: number;
  ms: number;
  /** Expired tokens may remain: the per-run cap was reached, or the sweeper is stopping. */
  capped: boolean;
}

export type SweepEvent = ({ type: 'swept' } & SweepReport) | ({ type: 'failed'; error: unknown } & SweepReport);

const DEFAULTS: SweeperOptions = {
  intervalMs: 5 * 60_000,
  retentionSeconds: 86_400,
  batchSize: 1000,
  maxPerRun: 100_000,
  onEvent: () => {},
};

const JITTER = 0.1;

/**
 * Deletes tokens past expiry (and the sessions they leave empty) off the
 * request path, in bounded batches, yielding between them. Many nodes may run
 * it at once: the store hands each a disjoint batch. A failed run is reported
 * and retried on the next tick; nothing ever throws out of the timer.
 */
export class Sweeper {
  private readonly options: SweeperOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepEvent> | null = null;
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    options: Partial<SweeperOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { intervalMs, retentionSeconds, batchSize, maxPerRun } = this.options;
    for (const [name, value] of Object.entries({ intervalMs, batchSize, maxPerRun })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`sweeper ${name} must be a whole number above 0 (got ${value})`);
    }
    // A replay inside the grace window needs the predecessor's row, and the window may outlast its expiry by the grace.
    if (!Number.isSafeInteger(retentionSeconds) || retentionSeconds < MAX_REFRESH_GRACE_SECONDS) {
      throw new RangeError(`sweeper retentionSeconds must be at least ${MAX_REFRESH_GRACE_SECONDS} (got ${retentionSeconds})`);
    }
  }

  /** The first run comes at a random point of the first interval, so a fleet deployed at once does not sweep in step. */
  start(): void {
    if (this.timer !== null || this.stopping) return;
    this.schedule(Math.random() * this.options.intervalMs);
  }

  /** Stops the timer, ends a run in progress after its current batch, and waits for it. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One run: batches until one comes back short, the per-run cap, or `stop()`. Never rejects. */
  sweepOnce(): Promise<SweepEvent> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      void this.sweepOnce().then(() => {
        if (!this.stopping) this.schedule(this.options.intervalMs * (1 - JITTER + Math.random() * 2 * JITTER));
      });
    }, delayMs).unref();
  }

  private async run(): Promise<SweepEvent> {
    const { retentionSeconds, batchSize, maxPerRun, onEvent } = this.options;
    const started = performance.now();
    const before = this.clock.now() - retentionSeconds * 1000;
    const report: SweepReport = { tokens: 0, sessions: 0, batches: 0, ms: 0, capped: false };
    let event: SweepEvent;
    try {
      for (;;) {
        const size = Math.min(batchSize, maxPerRun - report.tokens);
        const swept = await this.store.deleteExpiredTokens({ before, batchSize: size });
        report.batches += 1;
        report.tokens += swept.tokens;
        report.sessions += swept.sessions;
        if (swept.tokens < size) break;
        if (report.tokens >= maxPerRun || this.stopping) {
          report.capped = true;
          break;
        }
        // Let waiting requests run between batches (better-sqlite3 holds the event loop during a statement).
        await yieldToRequests();
      }
      event = { type: 'swept', ...report, ms: Math.round(performance.now() - started) };
    } catch (error) {
      event = { type: 'failed', error, ...report, ms: Math.round(performance.now() - started) };
    }
    try {
      onEvent(event);
    } catch {
      // A failing logger must not stop the sweeps.
    }
    return event;
  }
}
