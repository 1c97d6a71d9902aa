import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';
import { ClientGone, InvalidRequest, RateLimited } from './errors.js';
import { ARGON2_MODULE, HASHING_NICENESS, HASHING_THREAD_SOURCE, type HashingAnswer, type HashingJob, type HashingRequest } from './hashing-thread.js';

/** OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1. `algorithm: 2` is Argon2id (a const enum upstream). */
export const ARGON2ID: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** Longer passwords are refused before hashing rather than silently truncated (SPEC §9). */
export const MAX_PASSWORD_LENGTH = 1024;

export interface HasherOptions {
  /** Hashes computed at once; each holds 19 MiB and a thread-pool thread. */
  concurrency: number;
  /** Hashes allowed to wait; beyond that a login is answered 429 instead of queueing without bound. */
  queue: number;
}

/**
 * argon2id with bounded concurrency, so a flood of logins queues or gets 429
 * and never exhausts memory or the libuv pool that token verification shares.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;
  private readonly threads: HashingThreads;

  constructor(options: HasherOptions) {
    this.threads = new HashingThreads(options);
  }

  /** Hashes taken in: computing, or waiting for a thread. */
  get pending(): number {
    return this.threads.admitted;
  }

  /** Hashes dropped since start because their caller had gone before a thread took them. */
  get dropped(): number {
    return this.threads.dropped;
  }

  async hash(password: string): Promise<string> {
    checkLength(password);
    return (await this.threads.run({ op: 'hash', password })) as string;
  }

  /**
   * Whether `password` matches `passwordHash`; a malformed stored hash matches
   * nothing. `gone` says whether the caller has stopped waiting: if so when a
   * thread would take the hash, it is dropped (ClientGone).
   */
  async verify(passwordHash: string, password: string, gone?: () => boolean): Promise<boolean> {
    checkLength(password);
    return (await this.threads.run({ op: 'verify', hash: passwordHash, password }, gone)) === true;
  }

  /**
   * Spends the same work as verifying a real user's password, for a user that
   * does not exist: unknown user and wrong password must cost the same (SPEC §9).
   */
  async verifyNobody(password: string, gone?: () => boolean): Promise<false> {
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64'));
    // A refused or failed dummy hash is not kept: the next unknown user tries again.
    const dummy = await this.dummyHash.catch((error: unknown) => {
      this.dummyHash = null;
      throw error;
    });
    await this.verify(dummy, password, gone);
    return false;
  }
}

function checkLength(password: string): void {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new InvalidRequest(`password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** Idle hashing threads end after this long; the next login starts one again (about 30 ms). */
const THREAD_IDLE_MS = 10_000;

/** Most hashes a thread takes from the queue at once (see HashingThreads). */
export const HASH_BATCH = 4;

interface Job {
  request: HashingJob;
  gone: (() => boolean) | undefined;
  resolve(value: string | boolean): void;
  reject(error: Error): void;
}

/**
 * argon2id on threads of our own instead of libuv's pool, so that each can
 * lower its own priority (src/core/hashing-thread.ts): under a login flood
 * the kernel then gives the event loop, which verifies tokens, the core
 * first. At most `concurrency` threads hash at once, one hash at a time each,
 * and at most `concurrency + queue` hashes are taken in (hashing, or waiting
 * in a thread's batch or the queue); more are refused with 429.
 *
 * A thread that finishes takes up to HASH_BATCH waiting hashes at once and
 * answers them together. Under a flood this wakes the event loop once per
 * batch instead of once per hash, and the event loop runs just after the hash
 * has swept 19 MiB through the caches it shares: its first login of a wake-up
 * costs it several times what the next ones do (docs/benchmarks.md, "Password
 * grant": 1.4 ms of the event loop's time a login one at a time, 0.7 ms in
 * batches of 4). The longest wait does not grow: a batch forms only from
 * hashes already queued one behind another, and its last finishes when it
 * would have anyway; the others wait up to three hashes longer, a small part
 * of their time in a queue that long. A login that finds a thread free is
 * hashed at once, alone.
 */
class HashingThreads {
  private readonly waiting: Job[] = [];
  private readonly idle: Worker[] = [];
  private working = 0;
  /** Hashes taken by a thread or waiting for one. */
  admitted = 0;
  dropped = 0;
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: HasherOptions) {}

  run(request: HashingJob, gone?: () => boolean): Promise<string | boolean> {
    if (this.admitted >= this.options.concurrency + this.options.queue) {
      return Promise.reject(new RateLimited(1, 'too many logins in progress; try again in a second'));
    }
    this.admitted += 1;
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, gone, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Gives waiting hashes to free threads, sharing them out when several are
   * free. A hash whose caller has gone is dropped here, never computed: under
   * a flood, clients that time out and retry would otherwise have every
   * abandoned attempt hashed ahead of their retry.
   */
  private dispatch(): void {
    while (this.waiting.length > 0 && this.working < this.options.concurrency) {
      const size = Math.min(HASH_BATCH, Math.ceil(this.waiting.length / (this.options.concurrency - this.working)));
      const batch: Job[] = [];
      while (batch.length < size && this.waiting.length > 0) {
        const job = this.waiting.shift()!;
        if (job.gone?.() !== true) {
          batch.push(job);
        } else {
          this.admitted -= 1;
          this.dropped += 1;
          job.reject(new ClientGone());
        }
      }
      if (batch.length === 0) continue;
      this.working += 1;
      this.start(batch);
    }
  }

  private start(batch: Job[]): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.idle.pop() ?? new Worker(HASHING_THREAD_SOURCE, { eval: true, workerData: { argon2: ARGON2_MODULE, options: ARGON2ID, niceness: HASHING_NICENESS } });
    worker.ref();
    const id = (this.nextId += 1);
    /** The thread is done with the batch: its slot and the batch's places in the bound are free again. */
    const finish = (healthy: boolean) => {
      worker.off('message', settle).off('error', fail);
      this.working -= 1;
      this.admitted -= batch.length;
      if (healthy) this.release(worker);
      else void worker.terminate();
    };
    const settle = (answer: HashingAnswer) => {
      if (answer.id !== id) return;
      finish(true);
      batch.forEach((job, i) => {
        const result = answer.results[i];
        if (result === undefined || 'error' in result) job.reject(new Error(result?.error ?? 'no answer from the hashing thread'));
        else job.resolve(result.value);
      });
      this.dispatch();
    };
    const fail = (error: Error) => {
      finish(false);
      for (const job of batch) job.reject(error);
      this.dispatch();
    };
    worker.on('message', settle).once('error', fail);
    worker.postMessage({ id, requests: batch.map((job) => job.request) } satisfies HashingRequest);
  }

  private release(worker: Worker): void {
    worker.unref();
    this.idle.push(worker);
    this.idleTimer ??= setTimeout(() => {
      this.idleTimer = null;
      for (const idle of this.idle.splice(0)) void idle.terminate();
    }, THREAD_IDLE_MS).unref();
  }
}
