import type { Counter, Registry } from 'prom-client';

/*
 * Per-verification metrics, counted in plain numbers and handed to prom-client
 * only when /metrics is scraped. prom-client hashes the labels of every
 * `inc()` and `observe()`, bound children included: that was 1.2 µs, a twentieth
 * of a cached `GET /v1/me`. These keep prom-client's registry and exposition.
 */

type VerifiedLabels = 'kind' | 'door' | 'result';

/**
 * Verifications by kind, door and result, counted in plain numbers: call
 * `flush` from the counter's `collect`. Kinds and doors come from fixed sets,
 * so the maps stay small.
 */
export class VerificationTally {
  private readonly counts = new Map<string, Map<string, [invalid: number, valid: number]>>();

  add(kind: string, door: string, ok: boolean): void {
    let byDoor = this.counts.get(kind);
    if (byDoor === undefined) this.counts.set(kind, (byDoor = new Map()));
    let pair = byDoor.get(door);
    if (pair === undefined) byDoor.set(door, (pair = [0, 0]));
    pair[ok ? 1 : 0] += 1;
  }

  flush(counter: Counter<VerifiedLabels>): void {
    for (const [kind, byDoor] of this.counts) {
      for (const [door, pair] of byDoor) {
        if (pair[0] > 0) counter.inc({ kind, door, result: 'invalid' }, pair[0]);
        if (pair[1] > 0) counter.inc({ kind, door, result: 'valid' }, pair[1]);
        pair[0] = pair[1] = 0;
      }
    }
  }
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket, not cumulative; the last one counts those above every bound (+Inf). */
  readonly buckets: Float64Array;
  sum: number;
}

/** A Prometheus histogram with fixed label sets, as a metric prom-client's Registry exposes. */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The recorder of one label set: calling it costs a short loop over the bounds. */
  child(labels: Record<string, string>): (value: number) => void {
    const series: Series = { labels, buckets: new Float64Array(this.bounds.length + 1), sum: 0 };
    this.series.set(JSON.stringify(labels), series);
    const bounds = this.bounds;
    return (value) => {
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i += 1;
      series.buckets[i]! += 1;
      series.sum += value;
    };
  }

  /** What prom-client's Registry renders: cumulative `_bucket`s, `_sum` and `_count` per label set. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values = [];
    for (const { labels, buckets, sum } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < buckets.length; i += 1) {
        cumulative += buckets[i]!;
        values.push({ labels: { ...labels, le: i < this.bounds.length ? this.bounds[i]! : '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels }, value: sum, metricName: `${this.name}_sum` }, { labels: { ...labels }, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series.values()) {
      series.buckets.fill(0);
      series.sum = 0;
    }
  }
}
