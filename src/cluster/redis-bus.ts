import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RevocationBus } from './bus.js';
import { parseEvent, type RevocationEvent } from './events.js';

export interface RedisBusOptions {
  url: string;
  channel?: string;
  /** How often this node sends itself a heartbeat through Redis. */
  beatMs?: number;
  /** Trust the cache only while our own heartbeat came back this recently (SPEC §10's 1 s bound, with margin). */
  trustWindowMs?: number;
  onError?: (error: unknown) => void;
  /** Round trip of our own heartbeat through Redis: the fan-out lag. */
  onLag?: (ms: number) => void;
}

interface Envelope {
  node: string;
  event?: unknown;
  beat?: number;
}

/**
 * Revocations between nodes over Redis pub/sub. Delivery is proven, not
 * assumed: each node publishes a heartbeat to itself every `beatMs`, and
 * trusts its cache only while its own heartbeat came back within
 * `trustWindowMs`. Redis delivers messages in the order it processed them, so
 * a heartbeat that arrives proves every revocation published before it
 * arrived too. A node that loses Redis (or whose subscription silently stops)
 * stops trusting its cache within the window, reads the store, and empties
 * the cache when delivery is proven again.
 */
export class RedisBus implements RevocationBus {
  private readonly node = randomUUID();
  private readonly channel: string;
  private readonly beatMs: number;
  private readonly trustWindowMs: number;
  private readonly events: Array<(event: RevocationEvent) => void> = [];
  private readonly trustListeners: Array<(trusted: boolean) => void> = [];
  private lastBeatAt = Number.NEGATIVE_INFINITY;
  private wasTrusted = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly options: RedisBusOptions,
  ) {
    this.channel = options.channel ?? 'tokend:revocations';
    this.beatMs = options.beatMs ?? 250;
    this.trustWindowMs = options.trustWindowMs ?? 750;
  }

  /** Connects, subscribes and waits (up to 2 s) for the first heartbeat; starts untrusted if Redis is not there yet. */
  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const connection = { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: (times: number) => Math.min(times * 100, 1_000) };
    const bus = new RedisBus(new Redis(options.url, connection), new Redis(options.url, { ...connection, maxRetriesPerRequest: null }), options);
    for (const client of [bus.publisher, bus.subscriber]) client.on('error', (error) => options.onError?.(error));
    bus.subscriber.on('message', (_channel: string, message: string) => bus.receive(message));
    await bus.subscriber.subscribe(bus.channel).catch((error: unknown) => options.onError?.(error));
    bus.timer = setInterval(() => bus.tick(), bus.beatMs).unref();
    bus.tick();
    const deadline = Date.now() + 2_000;
    while (!bus.trusted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return bus;
  }

  get trusted(): boolean {
    return performance.now() - this.lastBeatAt <= this.trustWindowMs;
  }

  publish(event: RevocationEvent): void {
    for (const listener of this.events) listener(event);
    this.send({ node: this.node, event });
  }

  onEvent(listener: (event: RevocationEvent) => void): void {
    this.events.push(listener);
  }

  onTrustChange(listener: (trusted: boolean) => void): void {
    this.trustListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.subscriber.disconnect();
    await this.publisher.quit().catch(() => this.publisher.disconnect());
  }

  private send(envelope: Envelope): void {
    if (this.publisher.status !== 'ready') return; // a node without Redis cannot tell others; it distrusts itself meanwhile
    this.publisher.publish(this.channel, JSON.stringify(envelope)).catch((error: unknown) => this.options.onError?.(error));
  }

  private receive(message: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch {
      return;
    }
    if (envelope.node === this.node) {
      if (typeof envelope.beat === 'number') {
        this.lastBeatAt = performance.now();
        this.options.onLag?.(this.lastBeatAt - envelope.beat);
        this.checkTrust();
      }
      return; // our own events were delivered locally when published
    }
    if (envelope.event !== undefined) {
      const event = parseEvent(JSON.stringify(envelope.event));
      for (const listener of this.events) listener(event);
    }
  }

  private tick(): void {
    this.send({ node: this.node, beat: performance.now() });
    this.checkTrust();
  }

  /** Tells listeners when trust is lost or regained; regaining empties the caches before anything reads them. */
  private checkTrust(): void {
    const trusted = this.trusted;
    if (trusted === this.wasTrusted) return;
    this.wasTrusted = trusted;
    for (const listener of this.trustListeners) listener(trusted);
  }
}
