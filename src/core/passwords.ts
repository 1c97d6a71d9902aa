import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';
import { InvalidRequest, RateLimited } from './errors.js';
import { ARGON2_MODULE, HASHING_NICENESS, HASHING_THREAD_SOURCE, type HashingAnswer, type HashingRequest } from './hashing-thread.js';

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
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private dummyHash: Promise<string> | null = null;
  private readonly threads = new HashingThreads();

  constructor(private readonly options: HasherOptions) {}

  async hash(password: string): Promise<string> {
    checkLength(password);
    return this.limited(async () => (await this.threads.run({ op: 'hash', password })) as string);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    checkLength(password);
    return this.limited(async () => {
      try {
        return (await this.threads.run({ op: 'verify', hash: passwordHash, password })) === true;
      } catch {
        return false; // a malformed stored hash never logs anyone in
      }
    });
  }

  /**
   * Spends the same work as verifying a real user's password, for a user that
   * does not exist: unknown user and wrong password must cost the same (SPEC §9).
   */
  async verifyNobody(password: string): Promise<false> {
    this.dummyHash ??= this.threads.run({ op: 'hash', password: randomBytes(32).toString('base64') }) as Promise<string>;
    await this.verify(await this.dummyHash, password);
    return false;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) throw new RateLimited(1, 'too many logins in progress; try again in a second');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active -= 1;
      else next(); // hand our slot straight to the next waiter
    }
  }
}

function checkLength(password: string): void {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new InvalidRequest(`password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Idle hashing threads end after this long; the next login starts one again (about 30 ms). */
const THREAD_IDLE_MS = 10_000;

/**
 * argon2id on threads of our own instead of libuv's pool, so that each can
 * lower its own priority (src/core/hashing-thread.ts): under a login flood
 * the kernel then gives the event loop, which verifies tokens, the core
 * first. PasswordHasher bounds how many run at once; a thread does one hash
 * at a time, holds the process open only while it works, and ends when idle.
 */
class HashingThreads {
  private readonly idle: Worker[] = [];
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  run(request: WithoutId<HashingRequest>): Promise<string | boolean> {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.idle.pop() ?? new Worker(HASHING_THREAD_SOURCE, { eval: true, workerData: { argon2: ARGON2_MODULE, options: ARGON2ID, niceness: HASHING_NICENESS } });
    worker.ref();
    const id = (this.nextId += 1);
    return new Promise((resolve, reject) => {
      const settle = (answer: HashingAnswer) => {
        if (answer.id !== id) return;
        worker.off('message', settle).off('error', fail);
        this.release(worker);
        if ('error' in answer) reject(new Error(answer.error));
        else resolve(answer.value);
      };
      const fail = (error: Error) => {
        worker.off('message', settle);
        void worker.terminate();
        reject(error);
      };
      worker.on('message', settle).once('error', fail);
      worker.postMessage({ ...request, id } as HashingRequest);
    });
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
