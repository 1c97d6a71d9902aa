/**
 * A value now, or a promise of it. The hot paths (verification, client
 * authentication, the record caches) answer at once when no store read is
 * needed, so a route can send its answer in the same turn rather than after
 * a promise hop per step (with this and hex digests for client secrets,
 * introspection went from a median 63 to 54 CPU µs a request:
 * docs/benchmarks.md).
 * `await` takes either.
 */
export type Maybe<T> = T | Promise<T>;

/** `next` applied to `value`: at once if it is here, or once its promise resolves (a throw in `next` then rejects). */
export function andThen<T, U>(value: Maybe<T>, next: (value: T) => Maybe<U>): Maybe<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
