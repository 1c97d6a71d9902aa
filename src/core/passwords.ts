import { randomBytes } from 'node:crypto';
import { hash, verify, type Options } from '@node-rs/argon2';
import { InvalidRequest, RateLimited } from './errors.js';

/** OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1. `algorithm: 2` is Argon2id (a const enum upstream). */
const ARGON2ID: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

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

  constructor(private readonly options: HasherOptions) {}

  async hash(password: string): Promise<string> {
    checkLength(password);
    return this.limited(() => hash(password, ARGON2ID));
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    checkLength(password);
    return this.limited(async () => {
      try {
        return await verify(passwordHash, password);
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
    this.dummyHash ??= hash(randomBytes(32), ARGON2ID);
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
